// Package dockertest builds the small images the tests run builds in, with
// no registry: a root file system made of Debian's static busybox (package
// busybox-static) and a few files, imported into the local Docker Engine.
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// Busybox is where the static busybox binary is looked for.
var Busybox = []string{"/bin/busybox", "/usr/bin/busybox"}

// Image builds the image name from busybox plus files (path → content),
// unless an image of that name exists.
func Image(ctx context.Context, cli *client.Client, name string, files map[string]string) error {
	if _, err := cli.ImageInspect(ctx, name); err == nil {
		return nil
	}
	bin := ""
	for _, p := range Busybox {
		if _, err := os.Stat(p); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		return errors.New("no static busybox: install Debian's busybox-static (apt-get install busybox-static)")
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	list, err := exec.Command(bin, "--list").Output()
	if err != nil {
		return fmt.Errorf("%s --list: %w", bin, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	dirs := map[string]bool{}
	for _, d := range []string{"bin", "etc", "root", "tmp", "home", "home/codebuild-user", "usr", "usr/bin", "var", "var/tmp"} {
		mode := int64(0o755)
		if d == "tmp" || d == "var/tmp" {
			mode = 0o1777
		}
		dirs[d] = true
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: now})
	}
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(data)), ModTime: now})
	tw.Write(data)
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || applet == "bash" || strings.Contains(applet, "/") {
			continue
		}
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", ModTime: now})
	}
	all := map[string]string{
		// bash, for buildspecs with `shell: bash`: busybox's ash.
		"bin/bash":   "#!/bin/busybox ash\nexec /bin/busybox ash \"$@\"\n",
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\ncodebuild-user:x:1000:1000::/home/codebuild-user:/bin/sh\n",
		"etc/group":  "root:x:0:\ncodebuild-user:x:1000:\n",
	}
	for k, v := range files {
		all[strings.TrimPrefix(k, "/")] = v
	}
	names := make([]string, 0, len(all))
	for k := range all {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, n := range names {
		mode := int64(0o644)
		if strings.HasPrefix(n, "bin/") || strings.HasPrefix(n, "usr/bin/") {
			mode = 0o755
		}
		if i := strings.LastIndex(n, "/"); i > 0 && !dirs[n[:i]] {
			dirs[n[:i]] = true
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: n[:i] + "/", Mode: 0o755, ModTime: now})
		}
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: mode, Size: int64(len(all[n])), ModTime: now})
		tw.Write([]byte(all[n]))
	}
	if err := tw.Close(); err != nil {
		return err
	}
	res, err := cli.ImageImport(ctx, client.ImageImportSource{Source: &buf, SourceName: "-"}, name, client.ImageImportOptions{
		Changes: []string{"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ENV HOME=/root", "CMD [\"/bin/sh\"]"},
	})
	if err != nil {
		return fmt.Errorf("importing %s: %w", name, err)
	}
	defer res.Close()
	var sink bytes.Buffer
	sink.ReadFrom(res)
	if _, err := cli.ImageInspect(ctx, name); err != nil {
		return fmt.Errorf("importing %s: %s", name, sink.String())
	}
	return nil
}

// Images the tests use: two that tell themselves apart by a file only they
// have.
const (
	ImageA = "buildbatch-test/busybox-a:1"
	ImageB = "buildbatch-test/busybox-b:1"
)

// Standard builds ImageA and ImageB.
func Standard(ctx context.Context, cli *client.Client) error {
	if err := Image(ctx, cli, ImageA, map[string]string{"etc/buildbatch-image": "image A\n"}); err != nil {
		return err
	}
	return Image(ctx, cli, ImageB, map[string]string{"etc/buildbatch-image": "image B\n"})
}

// Containers lists the containers (any state) labelled with the build id.
func Containers(ctx context.Context, cli *client.Client, label string) ([]string, error) {
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", label)})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, c := range res.Items {
		ids = append(ids, c.ID[:12]+" "+strings.Join(c.Names, ","))
	}
	return ids, nil
}

// RemoveAll removes the containers with the label (cleaning up after a
// failed test).
func RemoveAll(ctx context.Context, cli *client.Client, label string) {
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", label)})
	if err != nil {
		return
	}
	for _, c := range res.Items {
		cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	}
}
