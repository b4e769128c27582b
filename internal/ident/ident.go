// Package ident forms the identifiers CodeBuild gives its resources: UUIDs,
// `<project>:<uuid>` ids and ARNs in the partition of the region.
package ident

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// UUID returns a random version-4 UUID.
func UUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Partition returns the ARN partition of a region.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	}
	return "aws"
}

// ARN forms arn:<partition>:<service>:<region>:<account>:<resource>.
func ARN(service, region, account, resource string) string {
	return "arn:" + Partition(region) + ":" + service + ":" + region + ":" + account + ":" + resource
}

// ProjectARN is a project's ARN.
func ProjectARN(region, account, name string) string {
	return ARN("codebuild", region, account, "project/"+name)
}

// BuildARN is a build's ARN; id is `<project>:<uuid>`.
func BuildARN(region, account, id string) string {
	return ARN("codebuild", region, account, "build/"+id)
}

// BatchARN is a build batch's ARN; id is `<project>:<uuid>`.
func BatchARN(region, account, id string) string {
	return ARN("codebuild", region, account, "build-batch/"+id)
}

// ParsedARN is an ARN split in its parts.
type ParsedARN struct {
	Partition, Service, Region, Account, Resource string
}

// Parse splits an ARN; ok is false if s is not one.
func Parse(s string) (ParsedARN, bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return ParsedARN{}, false
	}
	return ParsedARN{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4], Resource: parts[5]}, true
}

// ResourceName returns the part of a CodeBuild ARN after "<kind>/", or s
// itself if s is not such an ARN (clients may pass names or ARNs).
func ResourceName(s, kind string) string {
	if p, ok := Parse(s); ok && p.Service == "codebuild" {
		if rest, ok := strings.CutPrefix(p.Resource, kind+"/"); ok {
			return rest
		}
	}
	return s
}

// ScopedName is ResourceName for a caller in account and region: an ARN
// of another account or region is returned whole, so that it names
// nothing of the caller's (a resource name holds no ':'), and the caller
// gets "not found", as on AWS, never its own resource of the same name.
func ScopedName(s, kind, account, region string) string {
	if p, ok := Parse(s); ok && p.Service == "codebuild" {
		if rest, ok := strings.CutPrefix(p.Resource, kind+"/"); ok && p.Account == account && p.Region == region {
			return rest
		}
	}
	return s
}

// Hash is a short stable name for s (16 hex digits of its SHA-256), for
// labels.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// ReportGroupARN is a report group's ARN.
func ReportGroupARN(region, account, name string) string {
	return ARN("codebuild", region, account, "report-group/"+name)
}

// ReportARN is a report's ARN: report/<group name>:<uuid>.
func ReportARN(region, account, group, uuid string) string {
	return ARN("codebuild", region, account, "report/"+group+":"+uuid)
}
