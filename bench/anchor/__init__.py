"""The seed's service, as the benchmark's anchor: bench/anchor/handler.py (bench/README.md)."""
