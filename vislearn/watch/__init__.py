"""``vislearn watch``: a trained run on live video (a file, an http(s)/rtsp stream or a webcam) that never falls behind.

sources.py (what may be read) -> reader.py (decoding thread, latest-frame queue, reconnects) -> analysers.py (one per
task: detection with tracking, classification smoothed over time, defects, segmentation) -> counting.py (line and
zone counts, events) -> annotate.py (the annotated video) ; loop.py ties them together and measures FPS and lag;
mot.py scores tracks against MOT ground truth with py-motmetrics.
"""
