"""Cross-cutting pieces every feature uses: time and ids, errors, permissions, paging."""
