"""Client-side tooling: package and upload the artefacts, deploy the stack, run a day locally, reports."""
