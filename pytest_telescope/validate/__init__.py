"""Before anything costs money: each selected suite checked, offline, against the cluster it declares."""
