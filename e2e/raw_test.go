package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

type signing struct {
	key, secret string
	at          time.Time
}

// rawPost sends one request by hand, signed (with aws-sdk-go-v2's signer)
// if sig is set.
func rawPost(t *testing.T, url, op, body string, sig *signing) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "CodeBuild_20161006."+op)
	if sig != nil {
		sum := sha256.Sum256([]byte(body))
		err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: sig.key, SecretAccessKey: sig.secret}, req, hex.EncodeToString(sum[:]), "codebuild", "us-east-1", sig.at)
		if err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
