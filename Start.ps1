# MLSharp 3D Maker for Windows: set up (first run) and start the service.
# Double-click Start.bat, or run:  powershell -ExecutionPolicy Bypass -File Start.ps1 [app.py arguments]
# Works in Windows PowerShell 5.1 and PowerShell 7. Keep this file ASCII: 5.1 reads it in the ANSI code page.
# Environment knobs (same as start.sh): TORCH_BUILD=cuda|cpu, TORCH_SPEC, TORCH_INDEX_URL, PYTHON,
# MLSHARP_SKIP_DOWNLOAD=1 (never offer the checkpoint download).

$ErrorActionPreference = 'Stop'
$AppArgs = @($args)
$Root = $PSScriptRoot
Set-Location -LiteralPath $Root
$Venv = Join-Path $Root '.venv'
$VPy = Join-Path $Venv 'Scripts\python.exe'
$Checkpoint = Join-Path $Root 'model_assets\sharp_2572gikvuh.pt'
$CudaIndex = 'https://download.pytorch.org/whl/cu128'
$LogDir = Join-Path $Root 'logs'
New-Item -ItemType Directory -Force -Path $LogDir | Out-Null
$Log = Join-Path $LogDir ('setup_{0:yyyyMMdd}.log' -f (Get-Date))
try { Start-Transcript -Path $Log -Append | Out-Null } catch { Write-Host "(no transcript: $_)" }

function Say([string]$Text) { Write-Host "[start] $Text" }

# Every known failure ends here: what went wrong, then how to fix it.
function Fail([string]$Cause, [string[]]$Fixes) {
    Write-Host ''
    Write-Host "[start] ERROR: $Cause" -ForegroundColor Red
    foreach ($fix in $Fixes) { Write-Host "        fix: $fix" -ForegroundColor Yellow }
    Write-Host "        details: $Log"
    try { Stop-Transcript | Out-Null } catch { }
    exit 1
}

# Runs a program with stderr folded into the output (5.1 would otherwise turn stderr lines into
# terminating errors); returns the lines and leaves the exit code in $script:ToolExit.
function Invoke-Tool([string]$Exe, [string[]]$ArgList, [switch]$Show) {
    $saved = $ErrorActionPreference
    $ErrorActionPreference = 'Continue'
    try {
        $lines = @(& $Exe @ArgList 2>&1 | ForEach-Object { $l = "$_"; if ($Show) { Write-Host $l }; $l })
        $script:ToolExit = $LASTEXITCODE
    } catch {
        $lines = @("$_")
        $script:ToolExit = 1
    } finally {
        $ErrorActionPreference = $saved
    }
    return $lines
}

# pip install with the common failures explained.
function Install-Pip([string]$What, [string[]]$PipArgs) {
    Say "installing $What (this can take a few minutes)"
    $out = @(Invoke-Tool $VPy (@('-m', 'pip', 'install', '--disable-pip-version-check') + $PipArgs) -Show)
    if ($script:ToolExit -eq 0) { return }
    $text = $out -join "`n"
    if ($text -match 'No space left|not enough space|Errno 28') {
        Fail "out of disk space while installing $What" @('free space on this drive (and in %TEMP%), then start again')
    } elseif ($text -match 'Long Path|path too long|filename or extension is too long') {
        Fail "Windows path too long while installing $What" @('move this folder to a short path such as C:\MLSharp', 'or enable long paths: https://pip.pypa.io/warnings/enable-long-paths')
    } elseif ($text -match 'No matching distribution|Could not find a version') {
        Fail "no $What build matches Python $PyVer" @('install 64-bit Python 3.10-3.13, delete the .venv folder and start again', 'or choose another build with TORCH_SPEC / TORCH_INDEX_URL')
    } elseif ($text -match 'getaddrinfo|Connection|timed out|SSL|proxy') {
        Fail "could not download $What (network)" @('check the internet connection or proxy (set HTTPS_PROXY), then start again')
    }
    Fail "installing $What failed (exit code $script:ToolExit)" @('read the pip output above; start again after fixing it')
}

# 1. Python 3.10+ (64-bit) ---------------------------------------------------------------------
$probe = 'import sys, struct; print(''%d.%d %d %s'' % (sys.version_info[0], sys.version_info[1], struct.calcsize(''P'') * 8, sys.executable))'
$candidates = @()
if ($env:PYTHON) { $candidates += , @($env:PYTHON) }
else { $candidates += , @('py', '-3'); $candidates += , @('python'); $candidates += , @('python3') }
$Py = $null; $PyVer = $null; $seen = @()
foreach ($cand in $candidates) {
    if (-not (Get-Command $cand[0] -ErrorAction SilentlyContinue)) { continue }
    $extra = @($cand | Select-Object -Skip 1)
    $line = @(Invoke-Tool $cand[0] ($extra + @('-c', $probe))) | Select-Object -Last 1
    if ($script:ToolExit -ne 0 -or -not ("$line" -match '^(\d+\.\d+) (\d+) (.+)$')) { $seen += "$($cand -join ' ') (unusable)"; continue }
    if ([version]$Matches[1] -lt [version]'3.10') { $seen += "$($cand -join ' ') ($($Matches[1]))"; continue }
    if ($Matches[2] -ne '64') { $seen += "$($cand -join ' ') ($($Matches[1]), 32-bit)"; continue }
    $Py = $Matches[3].Trim(); $PyVer = $Matches[1]; break
}
if (-not $Py) {
    $found = ''
    if ($seen.Count -gt 0) { $found = ' (found: ' + ($seen -join ', ') + ')' }
    Fail "64-bit Python 3.10 or newer not found$found" @(
        'install Python 3.12 from https://www.python.org/downloads/windows/ and tick "Add python.exe to PATH"',
        'or run: winget install -e --id Python.Python.3.12   (then open a new window and start again)',
        'or point to one: set PYTHON=C:\path\to\python.exe')
}
Say "python: $Py ($PyVer)"

# 2. Which PyTorch build -----------------------------------------------------------------------
$Build = $env:TORCH_BUILD
$gpuNames = @()
try { $gpuNames = @(Get-CimInstance -ClassName Win32_VideoController -ErrorAction Stop | ForEach-Object { $_.Name }) } catch { }
$smiOk = $false
if (Get-Command nvidia-smi -ErrorAction SilentlyContinue) {
    $smi = @(Invoke-Tool 'nvidia-smi' @('-L'))
    $smiOk = ($script:ToolExit -eq 0) -and (($smi -join ' ') -match 'GPU')
}
if (-not $Build) {
    if ($smiOk -or (($gpuNames -join ';') -match 'NVIDIA')) { $Build = 'cuda' } else { $Build = 'cpu' }
}
if ($Build -eq 'cuda') {
    $Spec = if ($env:TORCH_SPEC) { $env:TORCH_SPEC } else { 'torch>=2.4' }
    $Index = if ($env:TORCH_INDEX_URL) { $env:TORCH_INDEX_URL } else { $CudaIndex }
    Say "torch build: CUDA for the NVIDIA GPU ($($gpuNames -join ', '))"
    if (-not $smiOk) { Say 'WARNING: nvidia-smi does not answer; the NVIDIA driver may be missing (https://www.nvidia.com/Download/index.aspx)' }
} elseif ($Build -eq 'cpu') {
    $Spec = if ($env:TORCH_SPEC) { $env:TORCH_SPEC } else { 'torch==2.13.0' }
    $Index = $env:TORCH_INDEX_URL
    $note = 'no NVIDIA GPU found'
    if (($gpuNames -join ';') -match 'AMD|Radeon') { $note = 'AMD GPU found, but PyTorch supports AMD GPUs (ROCm) on Linux only' }
    Say "torch build: CPU ($note)"
} else {
    Fail "TORCH_BUILD=$Build is not supported on Windows" @('use TORCH_BUILD=cuda or TORCH_BUILD=cpu, or unset it to detect the GPU')
}

# 3. Virtual environment, torch, requirements ----------------------------------------------------
if (-not (Test-Path -LiteralPath $VPy)) {
    Say 'creating .venv'
    Invoke-Tool $Py @('-m', 'venv', $Venv) -Show | Out-Null
    if ($script:ToolExit -ne 0 -or -not (Test-Path -LiteralPath $VPy)) {
        Remove-Item -LiteralPath $Venv -Recurse -Force -ErrorAction SilentlyContinue
        Fail "Python $PyVer could not create a virtual environment" @(
            'repair Python with its installer (Modify: tick pip and the standard library), then start again',
            'an antivirus may block it: allow this folder, or move it to a short path such as C:\MLSharp')
    }
    Invoke-Tool $VPy @('-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--upgrade', 'pip') | Out-Null
}
Invoke-Tool $VPy @('-m', 'pip', '--version') | Out-Null
if ($script:ToolExit -ne 0) {
    Invoke-Tool $VPy @('-m', 'ensurepip', '--upgrade') | Out-Null
    if ($script:ToolExit -ne 0) { Fail 'pip is missing in .venv' @('delete the .venv folder; repair Python with its installer (tick pip); start again') }
}

$torchVer = @(Invoke-Tool $VPy @('-c', 'import torch; print(torch.__version__)')) | Select-Object -Last 1
if ($script:ToolExit -eq 0) {
    Say "torch $torchVer already installed in .venv (delete .venv to choose again)"
} else {
    $need = if ($Build -eq 'cuda') { 8 } else { 2 }
    try {
        $free = [math]::Floor((New-Object System.IO.DriveInfo((Split-Path -Qualifier $Root))).AvailableFreeSpace / 1GB)
        if ($free -lt $need) { Fail "out of disk: the $Build build of torch needs about $need GB, $free GB free" @('free some space on this drive (or move this folder to a larger drive), then start again') }
    } catch { }  # a network path has no drive letter: let pip report a full disk
    $pipArgs = @($Spec)
    if ($Index) { $pipArgs += @('--index-url', $Index) }
    Install-Pip "PyTorch ($Spec)" $pipArgs
}
if ($Build -eq 'cuda') {
    $cuda = @(Invoke-Tool $VPy @('-c', 'import torch; print(torch.version.cuda, torch.cuda.is_available())')) | Select-Object -Last 1
    if ("$cuda" -notmatch 'True$') {
        Say 'WARNING: an NVIDIA GPU is present but this torch cannot use it; MLSharp will run on the CPU.'
        Say "  torch reports: CUDA build $cuda"
        Say '  fix: update the NVIDIA driver (https://www.nvidia.com/Download/index.aspx); nvidia-smi shows the CUDA version it supports'
        Say "  fix: or reinstall torch for an older CUDA: `"$VPy`" -m pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu126"
    }
}

$stamp = Join-Path $Venv '.mlsharp-requirements'
$hash = (Get-FileHash -LiteralPath (Join-Path $Root 'requirements.txt') -Algorithm SHA256).Hash
$oldHash = if (Test-Path -LiteralPath $stamp) { (Get-Content -LiteralPath $stamp -Raw).Trim() } else { '' }
if ($hash -ne $oldHash) {
    Install-Pip 'requirements' @('-r', (Join-Path $Root 'requirements.txt'))
    Set-Content -LiteralPath $stamp -Value $hash -Encoding Ascii
}

# 4. Optional checkpoint download (the preview backend works without it) ------------------------
$noAsk = Join-Path $Venv '.mlsharp-no-download'
$interactive = [Environment]::UserInteractive -and -not [Console]::IsInputRedirected
if (-not (Test-Path -LiteralPath $Checkpoint) -and $env:MLSHARP_SKIP_DOWNLOAD -ne '1' -and -not (Test-Path -LiteralPath $noAsk) -and $interactive) {
    Write-Host 'The SHARP checkpoint (2.8 GB) is not installed; without it a quick preview model answers.'
    Write-Host "Its weights are under Apple's research-only model licence (see README)."
    $answer = Read-Host 'Download it now? [y/N]'
    if ($answer -match '^[yY]') {
        & $VPy app.py --download-model
        if ($LASTEXITCODE -ne 0) { Say 'download failed; starting with the preview backend' }
    } else {
        New-Item -ItemType File -Force -Path $noAsk | Out-Null
        Say "skipped; download later with: `"$VPy`" app.py --download-model"
    }
}

# 5. Port check, then start -----------------------------------------------------------------------
# app.py's own parser and config give the port it will use; predict, --help or a bad flag print nothing.
$portProbe = @'
import sys
try:
    from mlsharp.cli import build_parser, overrides_from_args
    from mlsharp.config import load_config
    args = build_parser().parse_args(sys.argv[1:])
    config, _ = load_config(args.config, overrides_from_args(args))
    if not args.download_model:
        print('PORT', config.server.port)
except BaseException:
    pass
'@
$saved = $ErrorActionPreference; $ErrorActionPreference = 'Continue'
$portLine = @($portProbe | & $VPy - @AppArgs 2>$null) | Where-Object { "$_" -match '^PORT \d+$' } | Select-Object -First 1
$ErrorActionPreference = $saved
if ($portLine) {
    $port = [int]("$portLine".Split(' ')[1])
    $owner = $null
    if (Get-Command Get-NetTCPConnection -ErrorAction SilentlyContinue) {
        $conn = Get-NetTCPConnection -LocalPort $port -State Listen -ErrorAction SilentlyContinue | Select-Object -First 1
        if ($conn) {
            $proc = Get-Process -Id $conn.OwningProcess -ErrorAction SilentlyContinue
            $owner = if ($proc) { "$($proc.ProcessName) (PID $($conn.OwningProcess))" } else { "PID $($conn.OwningProcess)" }
        }
    } else {  # no NetTCPIP module: try to connect instead
        $client = New-Object System.Net.Sockets.TcpClient
        try { $client.Connect('127.0.0.1', $port); $owner = 'another program' } catch { } finally { $client.Close() }
    }
    if ($owner) {
        Fail "port $port is already in use by $owner (is MLSharp already running?)" @(
            "start on another port: Start.bat --port $($port + 1)",
            'or close that program (Task Manager, Details tab, sort by PID)')
    }
}
Say "starting: app.py $($AppArgs -join ' ')"
try { Stop-Transcript | Out-Null } catch { }
& $VPy app.py @AppArgs
exit $LASTEXITCODE
