"""The result cache: statistics and clearing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from mlsharp.http.deps import OwnerDep, get_caller
from mlsharp.schemas import CacheCleared, CacheStats

router = APIRouter(prefix="/api/cache", tags=["cache"], dependencies=[Depends(get_caller)])


@router.get("", response_model=CacheStats)
async def cache_stats(owner: OwnerDep) -> Any:
    """Result cache statistics (hit_rate in percent)."""
    return owner.cache_stats()


@router.post("/clear", response_model=CacheCleared)
async def cache_clear(owner: OwnerDep) -> Any:
    """Forget every cached result and delete its files."""
    return owner.clear_cache()
