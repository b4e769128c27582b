// Package curated is the catalog of CodeBuild's curated build images
// (aws/codebuild/...): what ListCuratedEnvironmentImages answers and where
// the container executor finds each one (the public name AWS publishes it
// under, or the Dockerfile AWS builds it from). Sources: AWS's
// build-env-ref-available page and github.com/aws/aws-codebuild-docker-images.
package curated

import (
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

// Image is one curated image.
type Image struct {
	Name        string // aws/codebuild/standard:7.0
	Platform    string // the model's PlatformType
	Languages   []string
	Description string
	// Public is the name AWS publishes it under ("": not published).
	Public string
	// Dockerfile is its directory in aws/aws-codebuild-docker-images
	// ("": none published).
	Dockerfile string
	// EnvironmentTypes are the environment types it runs in.
	EnvironmentTypes []string
}

var allLanguages = []string{cb.LanguageTypeBase, cb.LanguageTypeJava, cb.LanguageTypePython, cb.LanguageTypeNodeJs,
	cb.LanguageTypeRuby, cb.LanguageTypeGolang, cb.LanguageTypePhp, cb.LanguageTypeDotnet, cb.LanguageTypeDocker}

const (
	linux   = "LINUX_CONTAINER"
	arm     = "ARM_CONTAINER"
	windows = "WINDOWS_SERVER_2019_CONTAINER"
)

// Images is the catalog, newest first within each family.
var Images = []Image{
	{Name: "aws/codebuild/standard:8.0", Platform: cb.PlatformTypeUbuntu, Languages: allLanguages, Description: "Ubuntu 24.04 standard image 8.0",
		Dockerfile: "ubuntu/standard/8.0", EnvironmentTypes: []string{linux}},
	{Name: "aws/codebuild/standard:7.0", Platform: cb.PlatformTypeUbuntu, Languages: allLanguages, Description: "Ubuntu 22.04 standard image 7.0",
		Dockerfile: "ubuntu/standard/7.0", EnvironmentTypes: []string{linux}},
	{Name: "aws/codebuild/standard:6.0", Platform: cb.PlatformTypeUbuntu, Languages: allLanguages, Description: "Ubuntu 22.04 standard image 6.0",
		Dockerfile: "ubuntu/standard/6.0", EnvironmentTypes: []string{linux}},
	{Name: "aws/codebuild/standard:5.0", Platform: cb.PlatformTypeUbuntu, Languages: allLanguages, Description: "Ubuntu 20.04 standard image 5.0",
		Dockerfile: "ubuntu/standard/5.0", EnvironmentTypes: []string{linux}},
	{Name: "aws/codebuild/amazonlinux-x86_64-standard:6.0", Platform: cb.PlatformTypeAmazonLinux, Languages: allLanguages, Description: "Amazon Linux 2023 x86_64 standard image 6.0",
		Public: "public.ecr.aws/codebuild/amazonlinux-x86_64-standard:6.0", Dockerfile: "al/x86_64/standard/6.0", EnvironmentTypes: []string{linux}},
	{Name: "aws/codebuild/amazonlinux-x86_64-standard:5.0", Platform: cb.PlatformTypeAmazonLinux, Languages: allLanguages, Description: "Amazon Linux 2023 x86_64 standard image 5.0",
		Public: "public.ecr.aws/codebuild/amazonlinux-x86_64-standard:5.0", Dockerfile: "al/x86_64/standard/5.0", EnvironmentTypes: []string{linux}},
	{Name: "aws/codebuild/amazonlinux2-x86_64-standard:5.0", Platform: cb.PlatformTypeAmazonLinux, Languages: allLanguages, Description: "Amazon Linux 2023 x86_64 standard image 5.0 (former name)",
		Public: "public.ecr.aws/codebuild/amazonlinux2-x86_64-standard:5.0", Dockerfile: "al/x86_64/standard/5.0", EnvironmentTypes: []string{linux}},
	{Name: "aws/codebuild/amazonlinux2-x86_64-standard:4.0", Platform: cb.PlatformTypeAmazonLinux, Languages: allLanguages, Description: "Amazon Linux 2 x86_64 standard image 4.0",
		Public: "public.ecr.aws/codebuild/amazonlinux2-x86_64-standard:4.0", Dockerfile: "al/x86_64/standard/4.0", EnvironmentTypes: []string{linux}},
	{Name: "aws/codebuild/amazonlinux-aarch64-standard:4.0", Platform: cb.PlatformTypeAmazonLinux, Languages: allLanguages, Description: "Amazon Linux 2023 aarch64 standard image 4.0",
		Public: "public.ecr.aws/codebuild/amazonlinux-aarch64-standard:4.0", Dockerfile: "al/aarch64/standard/4.0", EnvironmentTypes: []string{arm}},
	{Name: "aws/codebuild/amazonlinux-aarch64-standard:3.0", Platform: cb.PlatformTypeAmazonLinux, Languages: allLanguages, Description: "Amazon Linux 2023 aarch64 standard image 3.0",
		Public: "public.ecr.aws/codebuild/amazonlinux-aarch64-standard:3.0", Dockerfile: "al/aarch64/standard/3.0", EnvironmentTypes: []string{arm}},
	{Name: "aws/codebuild/amazonlinux2-aarch64-standard:3.0", Platform: cb.PlatformTypeAmazonLinux, Languages: allLanguages, Description: "Amazon Linux 2023 aarch64 standard image 3.0 (former name)",
		Public: "public.ecr.aws/codebuild/amazonlinux2-aarch64-standard:3.0", Dockerfile: "al/aarch64/standard/3.0", EnvironmentTypes: []string{arm}},
	{Name: "aws/codebuild/windows-base:2019-3.0", Platform: cb.PlatformTypeWindowsServer, Languages: []string{cb.LanguageTypeBase, cb.LanguageTypeDotnet},
		Description: "Windows Server Core 2019 base image 3.0", EnvironmentTypes: []string{windows}},
}

// Lookup finds a curated image by name.
func Lookup(name string) (Image, bool) {
	for _, im := range Images {
		if im.Name == name {
			return im, true
		}
	}
	return Image{}, false
}

// Platforms is the catalog as ListCuratedEnvironmentImages answers it:
// by platform, then language, each image with its one version
// (<name>-<catalog version>, as AWS spells image versions).
func Platforms() []cb.EnvironmentPlatform {
	var out []cb.EnvironmentPlatform
	index := map[string]int{}
	for _, im := range Images {
		i, ok := index[im.Platform]
		if !ok {
			i = len(out)
			index[im.Platform] = i
			out = append(out, cb.EnvironmentPlatform{Platform: cb.String(im.Platform), Languages: []cb.EnvironmentLanguage{}})
		}
		p := &out[i]
		for _, lang := range im.Languages {
			j := -1
			for k := range p.Languages {
				if cb.Deref(p.Languages[k].Language) == lang {
					j = k
				}
			}
			if j < 0 {
				j = len(p.Languages)
				p.Languages = append(p.Languages, cb.EnvironmentLanguage{Language: cb.String(lang), Images: []cb.EnvironmentImage{}})
			}
			p.Languages[j].Images = append(p.Languages[j].Images, cb.EnvironmentImage{Name: cb.String(im.Name),
				Description: cb.String(im.Description), Versions: []string{im.Name + "-1.0.0"}})
		}
	}
	return out
}
