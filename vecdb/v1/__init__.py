"""Generated gRPC stubs for the vecdb v1 API (see scripts/gen_protos.py). Do not edit."""
