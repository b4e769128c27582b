package docker

import (
	"fmt"
	"strings"

	"github.com/buildbatch/buildbatch/internal/curated"
)

// Resolution is where the image of a build comes from.
type Resolution struct {
	// Candidates are local image names to use, first found wins.
	Candidates []string
	// Pull is the reference to pull when none is found locally ("": the
	// image is not published anywhere).
	Pull string
	// Hint tells the user how to get the image when it cannot be had.
	Hint string
}

// PublicRegistry is where AWS publishes its Amazon Linux build images.
const PublicRegistry = "public.ecr.aws/codebuild/"

// Resolve maps the image name a build names to local names and a pull
// reference: an --image-map entry wins; then the name itself; curated
// Amazon Linux images (aws/codebuild/amazonlinux...) are also looked for,
// and pulled, under the public names AWS publishes them with; other curated
// images (the Ubuntu standard images, Lambda and Windows images) are not
// published, so they must be built or mapped.
func Resolve(name string, imageMap map[string]string) Resolution {
	hint := fmt.Sprintf("map it to a local image with `buildbatch serve --image-map %s=IMAGE`", name)
	if to, ok := imageMap[name]; ok {
		return Resolution{Candidates: []string{to}, Pull: to, Hint: fmt.Sprintf("it is mapped to %s by --image-map; build or load %s", to, to)}
	}
	if im, ok := curated.Lookup(name); ok {
		how := "AWS does not publish this curated image"
		if im.Public != "" {
			return Resolution{Candidates: []string{name, im.Public}, Pull: im.Public,
				Hint: fmt.Sprintf("AWS publishes it as %s: pull that where a registry is reachable, `docker tag` a copy as %s, or %s", im.Public, name, hint)}
		}
		if im.Dockerfile != "" {
			how += fmt.Sprintf("; build it from AWS's Dockerfile (git clone https://github.com/aws/aws-codebuild-docker-images && docker build -t %s aws-codebuild-docker-images/%s)", name, im.Dockerfile)
		}
		return Resolution{Candidates: []string{name}, Hint: how + ", or " + hint}
	}
	// Not in the catalog: older or newer curated names follow the same
	// rules.
	repo, ok := strings.CutPrefix(name, "aws/codebuild/")
	if !ok {
		return Resolution{Candidates: []string{name}, Pull: name, Hint: "load it with `docker load`, build it, or " + hint}
	}
	base, tag, _ := strings.Cut(repo, ":")
	if tag == "" {
		tag = "latest"
	}
	if strings.HasPrefix(base, "amazonlinux") {
		public := PublicRegistry + base + ":" + tag
		return Resolution{Candidates: []string{name, public}, Pull: public,
			Hint: fmt.Sprintf("AWS publishes it as %s: pull that where a registry is reachable, `docker tag` a copy as %s, or %s", public, name, hint)}
	}
	dir := ""
	switch {
	case base == "standard":
		dir = "ubuntu/standard/" + tag
	}
	how := "AWS does not publish this curated image"
	if dir != "" {
		how += fmt.Sprintf("; build it from AWS's Dockerfile (git clone https://github.com/aws/aws-codebuild-docker-images && docker build -t %s aws-codebuild-docker-images/%s)", name, dir)
	}
	return Resolution{Candidates: []string{name}, Hint: how + ", or " + hint}
}

// ParseImageMap reads --image-map entries NAME=LOCALNAME (a later entry for
// the same name wins).
func ParseImageMap(entries []string) (map[string]string, error) {
	m := map[string]string{}
	for _, e := range entries {
		from, to, ok := strings.Cut(e, "=")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || to == "" {
			return nil, fmt.Errorf("--image-map %q: want NAME=LOCALNAME", e)
		}
		m[from] = to
	}
	return m, nil
}
