"""The category-aware semantic cache (issue 7): not built yet.

The Cache RPCs answer UNIMPLEMENTED until it lands.
"""
