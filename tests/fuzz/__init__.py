"""Property tests (hypothesis) of the handlers' and the reply extractor's inputs."""
