"""Which drone video links the hub reads for their KLV, and how it reads an HTTP answer's head."""

from __future__ import annotations

import pytest

from app.hub.klv_video import StreamFailed, VideoSource, _http_head, video_source


def test_http_https_and_udp_links_are_read() -> None:
    assert video_source("http://drone.example/live.ts?k=1") == VideoSource("http", "drone.example", 80,
                                                                           "/live.ts?k=1")
    assert video_source("HTTPS://drone.example:8443") == VideoSource("https", "drone.example", 8443, "/")
    assert video_source("udp://239.1.2.3:5000") == VideoSource("udp", "239.1.2.3", 5000, "/")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "rtsp://drone/live", "udp://239.1.2.3", "http://:80/x",
                                 "http://drone:99999/", "", "javascript:alert(1)", "ftp://drone/x.ts"])
def test_other_links_are_not_read(url: str) -> None:
    assert video_source(url) is None


def test_http_head() -> None:
    status, headers = _http_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: a:b\r\n\r\n")
    assert status == 200 and headers == {"transfer-encoding": "chunked", "x": "a:b"}
    with pytest.raises(StreamFailed):
        _http_head(b"ICY 200 OK\r\n\r\n")
