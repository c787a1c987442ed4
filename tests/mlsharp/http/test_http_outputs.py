"""Downloads: .ply and the converted .spz."""

from __future__ import annotations

from route_helpers import assert_error, unique_png, upload, with_query


def test_spz_is_converted_once_and_reused(client):
    body = upload(client, unique_png(6)).json()
    response = client.get(body["viewer_url"])
    assert response.status_code == 200 and len(response.content) > 0
    assert client.get(body["viewer_url"]).content == response.content


def test_download_routes_reject_bad_and_unknown_ids(client):
    assert_error(client.get("/api/outputs/" + "0" * 32 + ".ply"), 404, "no output")
    assert_error(client.get("/api/outputs/not-an-id.ply"), 404, "no output")
    assert client.get("/api/outputs/..%2F..%2Fapp.py.ply").status_code == 404
    assert_error(client.get("/api/outputs/" + "0" * 32 + ".spz"), 404, "no output")


def test_every_registered_format_downloads_and_is_cached_beside_the_output(client, owner):
    from sharpnet.io.ply import read_ply
    from sharpnet.io.registry import FORMATS

    body = upload(client, unique_png(151)).json()
    ply = client.get(body["url"])
    for name, fmt in FORMATS.items():
        response = client.get(f"/api/outputs/{body['id']}.{name}")
        assert response.status_code == 200, (name, response.text)
        assert response.headers["content-disposition"].endswith(f'{body["id"]}{fmt.suffix}"')
        assert len(response.content) > 0
    assert client.get(f"/api/outputs/{body['id']}.ply").content == ply.content
    folder = owner.service.output_file(body["id"], ".ply").parent
    names = {p.name for p in folder.glob(body["id"] + "*") if not p.name.endswith(".json")}  # + sidecar
    assert names == {body["id"] + f.suffix for f in FORMATS.values()}
    read_ply(ply.content)  # still the SHARP layout


def test_max_gaussians_serves_the_reduced_scene_in_any_format(client):
    from sharpnet.io.ply import read_ply

    body = upload(client, unique_png(152)).json()
    reduced = client.get(with_query(body["url"], max_gaussians=100))  # the url has a query already (?name=)
    assert reduced.status_code == 200
    gaussians, meta = read_ply(reduced.content)
    assert len(gaussians) == 100 and meta.image_width == body["image_width"]
    assert reduced.headers["content-disposition"] == 'attachment; filename="photo-100.ply"'
    bare = client.get(f"/api/outputs/{body['id']}.ply?max_gaussians=100")
    assert bare.headers["content-disposition"].endswith(f'{body["id"]}-100.ply"')
    splat = client.get(f"/api/outputs/{body['id']}.splat?max_gaussians=100")
    assert len(splat.content) == 100 * 32
    full = client.get(f"/api/outputs/{body['id']}.splat?max_gaussians={10**8}")
    assert len(full.content) == body["num_gaussians"] * 32


def test_clearing_the_cache_deletes_every_derived_file(client, owner):
    body = upload(client, unique_png(154)).json()
    for query in ("", "?max_gaussians=50"):
        for name in ("spz", "compressed.ply"):
            assert client.get(f"/api/outputs/{body['id']}.{name}{query}").status_code == 200
    folder = owner.service.output_file(body["id"], ".ply").parent
    assert len(list(folder.glob(body["id"] + ".n50.*"))) == 2
    assert client.post("/api/cache/clear").status_code == 200
    assert list(folder.glob(body["id"] + "*")) == []
    assert_error(client.get(f"/api/outputs/{body['id']}.spz"), 404, "no output")


def test_unknown_format_or_bad_density_is_a_one_line_422(client):
    body = upload(client, unique_png(153)).json()
    assert_error(client.get(f"/api/outputs/{body['id']}.exe"), 422, "Format must be 'ply', 'spz'")
    assert_error(client.get(with_query(body["url"], max_gaussians=0)), 422, "Gaussian count must be at least 1")


def test_depth_map_is_16_bit_millimetres_and_has_a_colour_preview(client):
    import io

    import numpy as np
    from PIL import Image

    from sharpnet.io.ply import read_ply

    body = upload(client, unique_png(155)).json()
    assert set(body["downloads"]) == {"ply", "spz", "splat", "compressed.ply"}
    response = client.get(body["depth_url"])
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.mode == "I;16" and image.size == (body["image_width"], body["image_height"])
    assert "millimetres" in image.info["Description"]
    mm = np.array(image)
    gaussians, _ = read_ply(client.get(body["url"]).content)
    z = gaussians.mean_vectors[:, 2]
    assert (mm > 0).all()  # the preview backend covers the whole photo
    assert z.min() * 1000 - 1 <= mm.min() and mm.max() <= z.max() * 1000 + 1
    preview = Image.open(io.BytesIO(client.get(body["depth_preview_url"]).content))
    assert preview.mode == "RGB" and preview.size == image.size
    pixels = np.array(preview).reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 10  # a ramp, not a flat image


def test_head_tells_the_size_before_the_download(client):
    body = upload(client, unique_png(156)).json()
    for url in [*body["downloads"].values(), body["depth_url"]]:
        head = client.head(url + ("?max_gaussians=100" if "depth" not in url else ""))
        assert head.status_code == 200 and head.content == b""
        get = client.get(url + ("?max_gaussians=100" if "depth" not in url else ""))
        assert int(head.headers["content-length"]) == len(get.content) > 0
