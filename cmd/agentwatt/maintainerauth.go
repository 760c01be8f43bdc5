package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/agentwatt/agentwatt/accounts"
	"github.com/agentwatt/agentwatt/queue"
)

// tokenEnv is where commands find an API token when no file is named.
const tokenEnv = "AGENTWATT_TOKEN"

// maintainerFlags names where a command finds its maintainer token.
type maintainerFlags struct {
	tokenFile string
}

func addMaintainerFlags(fs *pflag.FlagSet, f *maintainerFlags) {
	fs.StringVar(&f.tokenFile, "token-file", "", "file holding a maintainer token (awm_…); default: env "+tokenEnv)
}

// authenticateMaintainer reads the maintainer token (--token-file, else env
// AGENTWATT_TOKEN), checks it against the accounts store on q's NATS and
// returns the maintainer's name. A vendor's token, an unknown or revoked
// one, or none is refused.
func authenticateMaintainer(ctx context.Context, a *app, q *queue.Queue, f *maintainerFlags, what string) (string, error) {
	token := os.Getenv(tokenEnv)
	src := "env " + tokenEnv
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		token, src = string(b), f.tokenFile
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", fmt.Errorf("%s needs a maintainer token: --token-file FILE or env %s; 'agentwatt maintainer add NAME' issues one", what, tokenEnv)
	}
	acc, err := openAccounts(ctx, q, a.log)
	if err != nil {
		return "", err
	}
	p, err := acc.Authenticate(ctx, token)
	if errors.Is(err, accounts.ErrUnauthorized) {
		return "", fmt.Errorf("%s: the token in %s is unknown or revoked; 'agentwatt maintainer add NAME' issues a maintainer token", what, src)
	}
	if err != nil {
		return "", err
	}
	if p.Role != accounts.RoleMaintainer {
		return "", fmt.Errorf("%s: the token in %s is a %s's token; only a maintainer may (agentwatt maintainer add NAME)", what, src, p.Role)
	}
	return p.Name, nil
}
