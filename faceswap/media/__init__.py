"""Pictures in and out: videos through ffmpeg, image sets as tar shards, contact sheets."""
