"""The embedded encoder (issue 3): not built yet.

The Encoder RPCs and text sources on vector fields answer UNIMPLEMENTED until it lands.
"""
