"""Jobs that chain the layers below: generate samples, run (generate + evaluate + report)."""
