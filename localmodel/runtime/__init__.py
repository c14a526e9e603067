"""Process-level building blocks: namespaces, mounts, pod and operator init processes."""
