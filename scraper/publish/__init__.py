"""Publishing: validate versions, write a static tree, download and verify one."""
