package docker

import "os"

func removeAll(p string) { os.RemoveAll(p) }

func rename(from, to string) error { return os.Rename(from, to) }
