package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/verifyd"
)

func newRunnerTrustCmd(a *app) *cobra.Command {
	var (
		nf       natsFlags
		name, by string
		pools    []string
	)
	cmd := &cobra.Command{
		Use:   "trust KEYFILE",
		Short: "Enrol a runner's ed25519 public key (maintainers)",
		Long: `trust enrols a runner's public signing key under --name for the pools it
runs (--pool), recording who did it (--by). From then on the verifier
accepts bundles signed with the key for jobs of those pools only: a key
enrolled for sim pools (sim, or simx<N> for a simulated rack; a sim
runner's) can never sign a hardware result, and sim pools are never
enrolled together with hardware pools. The pools are
published with the key in runners.json, for offline verification.

KEYFILE ("-" reads standard input) holds an ed25519 public key, either
  - PEM with type "PUBLIC KEY" (PKIX), as written by
    'openssl pkey -in runner.key -pubout', or
  - the 32 raw key bytes in base64 (standard or URL-safe, padded or not).

Enrolling the same key under the same name again sets its pools to the
given ones; a different key under an enrolled name is refused. The key's fingerprint
(sha256 of the 32 bytes) is printed for the record.`,
		Example: `  openssl genpkey -algorithm ed25519 -out runner.key
  openssl pkey -in runner.key -pubout -out runner.pub
  agentwatt runner trust runner.pub --name gpu-node-7 --pool h200x8 --by alice
  agentwatt runner trust sim.pub --name ci-sim --pool sim --by alice`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				return fmt.Errorf("--name is required: the name the runner signs under")
			}
			if len(pools) == 0 {
				return fmt.Errorf("--pool is required: the pools whose results the key may sign (h200x8, or sim for a sim runner)")
			}
			data, err := readKeyFile(args[0])
			if err != nil {
				return err
			}
			pub, err := bundle.ParsePublicKey(data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			ctx := cmd.Context()
			q, closeQ, err := connectQueue(ctx, a, &nf)
			if err != nil {
				return err
			}
			defer closeQ()
			fl, err := openFleet(ctx, q, a.log)
			if err != nil {
				return err
			}
			if err := fl.TrustKey(ctx, name, pub, by, pools); err != nil {
				return err
			}
			k, err := fl.Key(ctx, name)
			if err != nil {
				return err
			}
			if a.json() {
				return printQueueJSON(a.out, k)
			}
			fmt.Fprintf(a.out, "%s\t%s\tpools %s\ttrusted by %s\n", k.Name, k.Fingerprint, strings.Join(k.Pools, ","), k.TrustedBy)
			return nil
		},
	}
	addNATSFlags(cmd.Flags(), &nf)
	cmd.Flags().StringVar(&name, "name", "", "name the key is enrolled under (a DNS label, e.g. the runner's host)")
	cmd.Flags().StringVar(&by, "by", defaultActor(), "who trusts it, recorded with the key")
	cmd.Flags().StringSliceVar(&pools, "pool", nil, "pools whose results the key may sign, comma-separated or repeated (required; sim pools alone for a sim runner: sim, simx<N>)")
	return cmd
}

// readKeyFile reads a small key file, or standard input for "-".
func readKeyFile(path string) ([]byte, error) {
	r := io.Reader(os.Stdin)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

func newRunnerRevokeCmd(a *app) *cobra.Command {
	var (
		nf     natsFlags
		s3     s3Flags
		mf     maintainerFlags
		reason string
	)
	cmd := &cobra.Command{
		Use:   "revoke NAME --reason TEXT",
		Short: "Revoke a runner's enrolled key (maintainers)",
		Long: `revoke marks the key enrolled under NAME revoked, recording when, by which
maintainer and why; the record stays. From then on the verifier rejects
the key's bundles of attempts that started, or manifests signed, at or after
the revocation, and says so in the verdict; bundles it made before stay
verified (they were judged while the key was trusted). The revocation is
published with the key in runners.json (rewritten at once when --s3-endpoint
is set, else at the next approval), so offline verification rejects them
too. NAME can never be enrolled again, by any key.

Only a maintainer revokes: the token is read as 'agentwatt approve' reads it
(--token-file, else env AGENTWATT_TOKEN).`,
		Example: `  agentwatt runner revoke gpu-i-0abc123 --reason "instance terminated" --token-file ~/.agentwatt/maintainer.token`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return fmt.Errorf("--reason is required: it is recorded and published with the revocation")
			}
			ctx := cmd.Context()
			q, closeQ, err := connectQueue(ctx, a, &nf)
			if err != nil {
				return err
			}
			defer closeQ()
			by, err := authenticateMaintainer(ctx, a, q, &mf, "revoke")
			if err != nil {
				return err
			}
			fl, err := openFleet(ctx, q, a.log)
			if err != nil {
				return err
			}
			k, err := fl.RevokeKey(ctx, args[0], by, reason)
			if err != nil {
				return err
			}
			if s3.endpoint != "" {
				if err := publishRunners(ctx, &s3, fl); err != nil {
					return fmt.Errorf("%s is revoked, but publishing runners.json failed (the next approval publishes it): %w", args[0], err)
				}
			}
			if a.json() {
				return printQueueJSON(a.out, k)
			}
			fmt.Fprintf(a.out, "%s\t%s\trevoked %s by %s: %s\n", esc(k.Name), k.Fingerprint, k.Revocation.At.Format(time.RFC3339), esc(k.Revocation.By), esc(k.Revocation.Reason))
			return nil
		},
	}
	addNATSFlags(cmd.Flags(), &nf)
	addS3Flags(cmd.Flags(), &s3)
	addMaintainerFlags(cmd.Flags(), &mf)
	cmd.Flags().StringVar(&reason, "reason", "", "why the key is revoked (required; published)")
	return cmd
}

// publishRunners rewrites published/runners.json from the enrolled keys.
func publishRunners(ctx context.Context, s3 *s3Flags, fl *fleet.Fleet) error {
	store, err := openStore(ctx, s3)
	if err != nil {
		return err
	}
	enrolled, err := fl.TrustedKeys(ctx)
	if err != nil {
		return err
	}
	return publish.PutRunners(ctx, store, verifyd.RunnersOf(enrolled, time.Now()))
}
