# Cases of this project for ../shared/tools/dagger-lab's run-checks, which sources this file
# (LAB_EXTRA_CASES=tests/lab/cases.sh) and provides rec, ledger_of, loopback_copy, REG_A...
# Run after `run-checks setup 00_pin_engine`; each case says what it shows.
# shellcheck shell=bash disable=SC2154

BUILDX=${BUILDX:-/var/cache/metrics-api-tools/buildx@v0.38.2/buildx}
COSIGN2=${COSIGN2:-/var/cache/metrics-api-tools/cosign@v2.6.5/cosign}
COSIGN3=${COSIGN3:-/var/cache/metrics-api-tools/cosign@v3.1.3/cosign}
RELEASE_A="dagger call release --registry $REG_A $A_CREDS $A_INS --revision \"\$(git rev-parse HEAD)\""

# What `docker buildx imagetools inspect` shows of a loopback copy (buildx: plain HTTP on loopback only).
buildx_show() { # REF TEMPLATE
	DOCKER_CONFIG=$(mktemp -d) "$BUILDX" imagetools inspect "$1" --format "$2"
}

# 26: an SBOM per platform, on by default (README's release line, as written but for the lab's
# plain-HTTP registry)
case_26_sbom() {
	rec 26a-release-sbom "$RELEASE_A --version v26.0.0" a
	rec 26b-release-sbom-again "$RELEASE_A --version v26.0.0" a
	ledger_of "$REG_A/metrics-api:v26.0.0" > "$R/ledger-v26"
	rec 26c-verify-require-sbom "dagger call verify --target $REG_A/metrics-api:v26.0.0 --expect \$(cat $R/ledger-v26) --require-sbom --require-provenance $A_CREDS $A_INS" a
	local ref d="$R/26d-buildx-sbom"; rm -rf "$d"; mkdir -p "$d"
	ref=$(loopback_copy metrics-api:v26.0.0)
	buildx_show "$ref" '{{json .SBOM}}' > "$d/sbom.json" 2> "$d/stderr"; echo $? > "$d/rc"
	buildx_show "$ref" '{{json .Provenance}}' > "$d/provenance.json" 2>> "$d/stderr"
	/usr/bin/python3 - "$d/sbom.json" "$d/provenance.json" > "$d/stdout" <<'PY'
import json, sys
sbom, provenance = (json.load(open(p)) for p in sys.argv[1:3])
for platform in sorted(sbom):
    doc = sbom[platform]["SPDX"]
    names = sorted({p["name"] + " " + p.get("versionInfo", "") for p in doc["packages"]})
    deps = provenance[platform]["SLSA"]["buildDefinition"]["resolvedDependencies"]
    scanner = [d for d in deps if d["name"] == "sbom scanner"]
    print(platform, doc["spdxVersion"], doc["documentNamespace"], doc["creationInfo"]["created"])
    print("  creators:", doc["creationInfo"]["creators"])
    print("  provenance sbom scanner:", scanner)
    print("  %d packages:" % len(names), ", ".join(names[:40]) + (" …" if len(names) > 40 else ""))
PY
	cat "$d/stdout"
}

# the SBOM's cost: the same release without it, a new version (compare 26a's seconds)
case_26_nosbom() {
	rec 26e-release-no-sbom "$RELEASE_A --version v26.2.0 --sbom=false" a
	ledger_of "$REG_A/metrics-api:v26.2.0" > "$R/ledger-v26-2"
	rec 26f-verify-require-sbom-missing "dagger call verify --target $REG_A/metrics-api:v26.2.0 --expect \$(cat $R/ledger-v26-2) --require-sbom $A_CREDS $A_INS" a
}

# a scanner the engine cannot pull: nothing written, the message names the way out
case_26_bad_scanner() {
	rec 26g-release-bad-scanner "$RELEASE_A --version v26.3.0 --sbom-scanner $MIRROR/anchore/none:v0" a
	rec 26h-release-mirror-scanner "$RELEASE_A --version v26.4.0 --sbom-scanner $MIRROR/anchore/syft:v1.57.2" a
}

# signed: cosign v2 and v3 verify the SBOM attestation by key; our verify with --public-key
case_26_signed() {
	local k="$LAB/cosign"; mkdir -p "$k"
	[ -s "$k/cosign.key" ] || (cd "$k" && COSIGN_PASSWORD=$COSIGN_PASSWORD_LAB "$COSIGN2" generate-key-pair >/dev/null 2>&1)
	[ -s "$k/other.key" ] || (cd "$k" && COSIGN_PASSWORD=x "$COSIGN2" generate-key-pair --output-key-prefix other >/dev/null 2>&1)
	cp "$k/cosign.pub" "$k/other.pub" "$P/"
	export COSIGN_PASSWORD_LAB
	rec 26i-release-signed "$RELEASE_A --version v26.1.0 --signing-key file:$k/cosign.key --signing-key-password env:COSIGN_PASSWORD_LAB" a
	ledger_of "$REG_A/metrics-api:v26.1.0" > "$R/ledger-v26-1"
	rec 26j-verify-signed-sbom "dagger call verify --target $REG_A/metrics-api:v26.1.0 --expect \$(cat $R/ledger-v26-1) --require-sbom --public-key ./cosign.pub $A_CREDS $A_INS" a
	local d="$R/26k-cosign-spdxjson" at dg c trust rc key; rm -rf "$d"; mkdir -p "$d"
	loopback_copy metrics-api:v26.1.0 > /dev/null
	at="127.0.0.1:$LOOP_PORT/metrics-api"
	[ -s "$k/trusted-root.json" ] || "$COSIGN3" trusted-root create --out "$k/trusted-root.json" >/dev/null 2>&1
	{
		for c in "$COSIGN2" "$COSIGN3"; do
			trust=(); [ "$c" = "$COSIGN2" ] && trust=(--trusted-root "$k/trusted-root.json")
			for dg in $(tr ',' '\n' < "$R/ledger-v26-1" | sed 's/.*=//'); do
				for key in cosign other; do
					rc=0; "$c" verify-attestation --type spdxjson --key "$k/$key.pub" --insecure-ignore-tlog=true "${trust[@]}" --allow-http-registry=true "$at@$dg" > "$d/out-$key" 2>>"$d/err" || rc=$?
					echo "$(basename "$(dirname "$c")") verify-attestation --type spdxjson --key $key.pub $dg rc=$rc"
				done
			done
		done
	} > "$d/stdout" 2>&1
	cat "$d/stdout"
}

# a fresh runner (engine cache pruned): the published build's inputs are recognised, SBOM kept
case_26_fresh() {
	(cd / && dagger core engine local-cache prune) > /dev/null 2>&1 || true
	rec 26l-release-sbom-fresh "$RELEASE_A --version v26.0.0" a
}

# the split flow: each runner attaches its SBOM, assemble keeps them, verify requires them
case_26_split() {
	rec 26m-publish-amd64 "dagger call publish-variant --source app-amd64 --platform linux/amd64 --registry $REG_A $A_CREDS $A_INS --version v26.5.0" a
	rec 26n-publish-arm64 "dagger call publish-variant --source app-arm64 --platform linux/arm64 --registry $REG_A $A_CREDS $A_INS --version v26.5.0" a
	local amd arm
	amd=$(tail -1 "$R/26m-publish-amd64/stdout"); arm=$(tail -1 "$R/26n-publish-arm64/stdout")
	rec 26o-assemble-keep "dagger call assemble --target $REG_A/metrics-api:v26.5.0 --variants linux/amd64=${amd%@*},linux/arm64=${arm%@*} --attestations keep --expect linux/amd64=${amd#*@},linux/arm64=${arm#*@} $A_CREDS $A_INS" a
	rec 26p-verify-split "dagger call verify --target $REG_A/metrics-api:v26.5.0 --expect linux/amd64=${amd#*@},linux/arm64=${arm#*@} --require-sbom --require-provenance $A_CREDS $A_INS" a
}

# docs/ci.md's GitLab job, as its runner runs it (one shell, stopping at a failing line),
# against a publish-variant that is refused: the job fails and writes no dotenv file
case_29_ci_refusal() {
	local job
	job=$(/usr/bin/python3 - "$P/docs/ci.md" <<'PY'
import re, sys
page = open(sys.argv[1]).read()
block = re.findall(r"```yaml\n(.*?)```", page[page.index("## GitLab CI"):], re.DOTALL)[0]
lines, inside = [], False
for line in block.splitlines():
    if re.match(r"^[\w-]+:$", line):
        inside = line == "variant-amd64:"
    elif inside and line.startswith("    - "):
        lines.append(line[6:])
print("\n".join(lines))
PY
)
	printf '%s\n' "$job" > "$LAB/gitlab-amd64.sh"
	local env="CI_REGISTRY=$REG_A CI_REGISTRY_USER=ci CI_REGISTRY_PASSWORD=\$REGISTRY_PASSWORD; export CI_REGISTRY CI_REGISTRY_USER CI_REGISTRY_PASSWORD"
	# the lab registry is plain HTTP: the job's dagger call gets --insecure-registries
	sed -i "s|--password env:CI_REGISTRY_PASSWORD)|--password env:CI_REGISTRY_PASSWORD --insecure-registries $REG_A --version v29.0.0)|" "$LAB/gitlab-amd64.sh"
	rec 29a-gitlab-job-publishes "$env; rm -f amd64.env; bash -eo pipefail $LAB/gitlab-amd64.sh; echo rc=\$?; cat amd64.env" a
	sed -i '1s|^|// lab change: case 29\n|' "$P/app-amd64/main.go"
	rec 29b-gitlab-job-refused "$env; rm -f amd64.env; bash -eo pipefail $LAB/gitlab-amd64.sh; rc=\$?; ls amd64.env 2>&1; exit \$rc" a
	sed -i '1d' "$P/app-amd64/main.go"
}

# a build argument's value is not published: the provenance records its digest; the call warns
case_29_build_arg() {
	local secret=lab-npm-secret-5e1f d="$R/29d-build-arg-published"
	rec 29c-release-build-arg "$RELEASE_A --version v29.1.0 --build-args NPM_TOKEN=$secret" a
	rm -rf "$d"; mkdir -p "$d"
	buildx_show "$(loopback_copy metrics-api:v29.1.0)" '{{json .Provenance}}' > "$d/provenance.json" 2> "$d/stderr"
	/usr/bin/python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); [print(k, json.dumps(v["SLSA"]["buildDefinition"]["externalParameters"]["buildArgs"])) for k,v in sorted(p.items())]' "$d/provenance.json" > "$d/stdout"
	{ echo "secret in the published provenance: $(grep -c "$secret" "$d/provenance.json")"
	  echo "secret in the registry's storage: $(grep -rl "$secret" "$LAB/reg-a/storage" | wc -l) files"
	  echo "sha256 of the secret: $(printf %s "$secret" | sha256sum | cut -d' ' -f1)"
	  grep -h "looks like a secret" "$R/29c-release-build-arg/stderr" | head -1 | cut -c1-160; } >> "$d/stdout"
	cat "$d/stdout"
}

# a consumer verifies by the publisher's key alone (the signed release of case 26_signed)
case_29_verify_by_key() {
	cp "$LAB/cosign/cosign.pub" "$LAB/cosign/other.pub" "$P/"
	rec 29e-verify-by-key "dagger call verify --target $REG_A/metrics-api:v26.1.0 --public-key ./cosign.pub --require-sbom $A_CREDS $A_INS" a
	rec 29f-verify-by-other-key "dagger call verify --target $REG_A/metrics-api:v26.1.0 --public-key ./other.pub $A_CREDS $A_INS" a
	rec 29g-verify-neither "dagger call verify --target $REG_A/metrics-api:v26.1.0 $A_CREDS $A_INS" a
}

# the split flow signed by key: assemble reads the signature tags beside the index's write,
# making the signatures meanwhile; a second key adds beside them, the same key again adds
# none; cosign v2 and v3 from the host verify by each key (run after 26_split and 26_signed)
case_29_assemble_signed() {
	local k="$LAB/cosign" amd arm variants
	amd=$(tail -1 "$R/26m-publish-amd64/stdout"); arm=$(tail -1 "$R/26n-publish-arm64/stdout")
	variants="--variants linux/amd64=${amd%@*},linux/arm64=${arm%@*} --expect linux/amd64=${amd#*@},linux/arm64=${arm#*@}"
	export COSIGN_PASSWORD_LAB OTHER_PASSWORD=x
	rec 29h-assemble-signed "dagger call assemble --target $REG_A/metrics-api:v29.2.0 $variants --attestations keep --signing-key file:$k/cosign.key --signing-key-password env:COSIGN_PASSWORD_LAB $A_CREDS $A_INS" a
	rec 29i-assemble-other-key "dagger call assemble --target $REG_A/metrics-api:v29.2.1 $variants --attestations keep --signing-key file:$k/other.key --signing-key-password env:OTHER_PASSWORD $A_CREDS $A_INS" a
	rec 29j-assemble-same-key-again "dagger call assemble --target $REG_A/metrics-api:v29.2.2 $variants --attestations keep --signing-key file:$k/cosign.key --signing-key-password env:COSIGN_PASSWORD_LAB $A_CREDS $A_INS" a
	for key in cosign other; do
		rec "29k-verify-by-$key" "dagger call verify --target $REG_A/metrics-api:v29.2.2 --public-key ./$key.pub --require-sbom --require-provenance $A_CREDS $A_INS" a
	done
	local d="$R/29l-cosign-assembled" at dg c trust rc key; rm -rf "$d"; mkdir -p "$d"
	loopback_copy metrics-api:v29.2.2 > /dev/null
	at="127.0.0.1:$LOOP_PORT/metrics-api"
	{
		for c in "$COSIGN2" "$COSIGN3"; do
			trust=(); [ "$c" = "$COSIGN2" ] && trust=(--trusted-root "$k/trusted-root.json")
			for dg in $(grep -o 'sha256:[0-9a-f]\{64\}' "$R/29h-assemble-signed/stdout" | head -1) ${amd#*@} ${arm#*@}; do
				for key in cosign other; do
					rc=0; "$c" verify --key "$k/$key.pub" --insecure-ignore-tlog=true "${trust[@]}" --allow-http-registry=true "$at@$dg" > /dev/null 2>>"$d/err" || rc=$?
					echo "$(basename "$(dirname "$c")") verify --key $key.pub $dg rc=$rc"
				done
			done
		done
	} > "$d/stdout" 2>&1
	cat "$d/stdout"
}

# 27: keyless signing on the engine. The lab's engine reaches the host only through HOST_IP,
# so the tests' local Sigstore (tests/support/sigstore_stack.py) runs there; cosign v2/v3
# on the host then verify by identity against the lab's registry.
sigstore_up() {
	local info="$LAB/sigstore.json"
	if ! alive "$LAB/run/sigstore.pid"; then
		rm -f "$info"
		(cd "$PROJECT/tests" || exit; nohup "$PROJECT/.venv/bin/python" -m support.sigstore_stack --host "$HOST_IP" --info "$info" > "$LAB/logs/sigstore.log" 2>&1 & echo $! > "$LAB/run/sigstore.pid")
		for _ in $(seq 1 120); do [ -s "$info" ] && break; sleep 0.5; done
	fi
	[ -s "$info" ] || { tail -20 "$LAB/logs/sigstore.log"; return 1; }
	fact() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$info" "$1"; }
	SIGSTORE_TRUST=$(fact trust_config); SIGSTORE_ROOT=$(fact trusted_root)
	SIGSTORE_ID=$(fact certificate_identity); SIGSTORE_ISSUER=$(fact certificate_oidc_issuer)
	LAB_TOKEN_URL=$(fact request_url); LAB_REQUEST_TOKEN=$(fact request_token)
	cp "$SIGSTORE_TRUST" "$P/trust-config.json"
	export LAB_TOKEN_URL LAB_REQUEST_TOKEN
}
sigstore_down() { [ -s "$LAB/run/sigstore.pid" ] && kill "$(cat "$LAB/run/sigstore.pid")" 2>/dev/null; rm -f "$LAB/run/sigstore.pid"; }
lab_token() { curl -s -H "Authorization: bearer $LAB_REQUEST_TOKEN" "$LAB_TOKEN_URL&audience=${1:-sigstore}" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])'; }

# GitHub Actions' way: the module asks the token endpoint itself, right before signing
case_27_keyless() {
	sigstore_up
	local keyless="--keyless --id-token-request-url env:LAB_TOKEN_URL --id-token-request-token env:LAB_REQUEST_TOKEN --trust-config ./trust-config.json"
	rec 27a-release-keyless "$RELEASE_A --version v27.0.0 $keyless" a
	rec 27b-release-keyless-again "$RELEASE_A --version v27.0.0 $keyless" a
	rec 27c-verify-by-identity "dagger call verify --target $REG_A/metrics-api:v27.0.0 --certificate-identity $SIGSTORE_ID --certificate-oidc-issuer $SIGSTORE_ISSUER --trust-config ./trust-config.json --require-sbom --require-provenance $A_CREDS $A_INS" a
	rec 27d-verify-other-identity "dagger call verify --target $REG_A/metrics-api:v27.0.0 --certificate-identity https://github.com/someone-else/metrics-api/.github/workflows/release.yml@refs/heads/main --certificate-oidc-issuer $SIGSTORE_ISSUER --trust-config ./trust-config.json $A_CREDS $A_INS" a
	ledger_of "$REG_A/metrics-api:v27.0.0" > "$R/ledger-v27"
	local d="$R/27e-cosign-by-identity" c dg gen extra kind rc id conf; rm -rf "$d"; mkdir -p "$d/docker"
	printf '{"auths":{"%s":{"auth":"%s"}}}' "$REG_A" "$(printf 'ci:%s' "$REGISTRY_PASSWORD" | base64 -w0)" > "$d/docker/config.json"
	local index; index=$(skopeo inspect --raw "${SK_A[@]}" "docker://$REG_A/metrics-api:v27.0.0" | sha256sum | cut -d' ' -f1)
	{
		for c in "$COSIGN2" "$COSIGN3"; do
			gen=$(basename "$(dirname "$c")"); extra=(); [ "$c" = "$COSIGN2" ] && extra=(--new-bundle-format --use-signed-timestamps)
			for dg in "sha256:$index" $(tr ',' '\n' < "$R/ledger-v27" | sed 's/.*=//'); do
				for id in "$SIGSTORE_ID" "https://github.com/someone-else/metrics-api/.github/workflows/release.yml@refs/heads/main"; do
					for kind in sign slsaprovenance1 spdxjson; do
						[ "$dg" = "sha256:$index" ] && [ "$kind" != sign ] && continue
						conf=(verify); [ "$kind" != sign ] && conf=(verify-attestation --type "$kind")
						rc=0; DOCKER_CONFIG="$d/docker" HOME="$d" "$c" "${conf[@]}" --certificate-identity "$id" --certificate-oidc-issuer "$SIGSTORE_ISSUER" --trusted-root "$SIGSTORE_ROOT" --allow-http-registry "${extra[@]}" "$REG_A/metrics-api@$dg" > "$d/out" 2>> "$d/err" || rc=$?
						echo "$gen ${conf[*]} $dg by ${id#https://github.com/} rc=$rc"
					done
				done
			done
		done
	} > "$d/stdout" 2>&1
	cat "$d/stdout"
}

# GitLab's way: a token in a variable; one that expired fails before any build
case_27_token() {
	sigstore_up
	SIGSTORE_ID_TOKEN=$(lab_token); export SIGSTORE_ID_TOKEN
	rec 27f-release-keyless-env-token "$RELEASE_A --version v27.1.0 --keyless --identity-token env:SIGSTORE_ID_TOKEN --trust-config ./trust-config.json" a
	WRONG_AUDIENCE_TOKEN=$(lab_token https://gitlab.example.com); export WRONG_AUDIENCE_TOKEN
	rec 27g-release-keyless-wrong-audience "$RELEASE_A --version v27.2.0 --keyless --identity-token env:WRONG_AUDIENCE_TOKEN --trust-config ./trust-config.json" a
	rec 27h-release-keyless-no-token "$RELEASE_A --version v27.2.0 --keyless --trust-config ./trust-config.json" a
	sigstore_down
}

# 28: reproducible releases. Two fresh runners (the engine's cache pruned, every file of the
# checkout touched, so its times differ) release the same commit with the commit's time as
# SOURCE_DATE_EPOCH, to two registries; then the same without it, as the control.
fresh_runner() {
	(cd / && dagger core engine local-cache prune) > /dev/null 2>&1 || true
	sleep 1.1
	find "$P" -path "$P/.git" -prune -o -path "$P/.venv" -prune -o -exec touch {} +
}
compare_runners() { # NAME VERSION: each platform's image manifest in A and in B
	local d="$R/$1" arch a b; rm -rf "$d"; mkdir -p "$d"
	{
		for arch in amd64 arm64; do
			a=$(skopeo inspect --raw "${SK_A[@]}" "docker://$REG_A/metrics-api:$2-$arch")
			b=$(skopeo inspect --raw --tls-verify=false --creds "builder:$REGISTRY_B_PASSWORD" "docker://$REG_B/metrics-api:$2-$arch")
			printf '%s' "$a" > "$d/a-$arch.json"; printf '%s' "$b" > "$d/b-$arch.json"
			echo "$arch: runner 1 sha256:$(printf '%s' "$a" | sha256sum | cut -d' ' -f1) runner 2 sha256:$(printf '%s' "$b" | sha256sum | cut -d' ' -f1) $( [ "$a" = "$b" ] && echo byte-identical || echo DIFFER)"
			[ "$a" = "$b" ] || diff <(printf '%s' "$a" | /usr/bin/python3 -m json.tool) <(printf '%s' "$b" | /usr/bin/python3 -m json.tool) | head -20 || true
		done
	} > "$d/stdout" 2>&1
	cat "$d/stdout"
}
case_28_two_runners() {
	local epoch rev flags b_creds="--username builder --password env:REGISTRY_B_PASSWORD --insecure-registries $REG_B"
	epoch=$(cd "$P" && git log -1 --format=%ct); rev=$(cd "$P" && git rev-parse HEAD)
	flags="--revision $rev --source-date-epoch $epoch"
	fresh_runner
	rec 28a-release-runner-1 "dagger call release --registry $REG_A $A_CREDS $A_INS $flags --version v28.0.0" a
	fresh_runner
	rec 28b-release-runner-2 "dagger call release --registry $REG_B $b_creds $flags --version v28.0.0" b
	compare_runners 28c-compare v28.0.0
	fresh_runner
	rec 28d-control-runner-1 "dagger call release --registry $REG_A $A_CREDS $A_INS --revision $rev --version v28.1.0" a
	fresh_runner
	rec 28e-control-runner-2 "dagger call release --registry $REG_B $b_creds --revision $rev --version v28.1.0" b
	compare_runners 28f-compare-control v28.1.0
}
case_28_compare_control() { compare_runners 28f-compare-control v28.1.0; }

# rebuild: the release of runner 1 from this checkout and its provenance; the control release
# (no epoch) cannot be compared byte for byte and says so
case_28_rebuild() {
	fresh_runner
	rec 28g-rebuild "dagger call rebuild --target $REG_A/metrics-api:v28.0.0 $A_CREDS $A_INS" a
	rec 28h-rebuild-no-epoch "dagger call rebuild --target $REG_A/metrics-api:v28.1.0 $A_CREDS $A_INS" a
}

# the source address cannot carry a secret into the label and provenance, however it is given:
# through --build-args SOURCE, or with a password holding '/' (refused before any build,
# the secret never printed); a --trust-config without an identity is refused, not ignored
case_30_source_secret() {
	local secret=lab-src-s3cret
	rec 30a-source-in-build-args "$RELEASE_A --version v30.0.0 --build-args SOURCE=https://ci:$secret@git.example.com/x" a
	rec 30b-source-password-slash "$RELEASE_A --version v30.0.1 --source-url https://ci:lab/$secret@git.example.com/x" a
	for c in 30a-source-in-build-args 30b-source-password-slash; do
		echo "$c: secret printed $(cat "$R/$c/stdout" "$R/$c/stderr" | grep -c "$secret") times"
	done
	cp "$LAB/cosign/cosign.pub" "$P/" 2>/dev/null || true
	printf '{}' > "$P/trust.json"
	rec 30c-verify-trust-without-identity "dagger call verify --target $REG_A/metrics-api:v26.1.0 --public-key ./cosign.pub --trust-config ./trust.json $A_CREDS $A_INS" a
	rm -f "$P/trust.json"
}

# a malformed value is named with the Dagger flag it came with (the core names no flag; the
# functions pass their own names), refused before any request
case_31_bad_values() {
	rec 31a-assemble-variant-without-ref "dagger call assemble --target $REG_A/metrics-api:v31.0.0 --variants linux/amd64 $A_CREDS $A_INS" a
	rec 31b-verify-bad-digest "dagger call verify --target $REG_A/metrics-api:v31.0.0 --expect linux/amd64=sha256:1 $A_CREDS $A_INS" a
	rec 31c-assemble-bad-annotation "dagger call assemble --target $REG_A/metrics-api:v31.0.0 --variants linux/amd64=$REG_A/metrics-api:x --annotations nokey $A_CREDS $A_INS" a
	rec 31d-release-row-without-folder "$RELEASE_A --version v31.0.0 --variants linux/arm64=" a
	for c in 31a-assemble-variant-without-ref 31b-verify-bad-digest 31c-assemble-bad-annotation 31d-release-row-without-folder; do
		echo "$c: $(grep -h -m1 'Error:' "$R/$c/stdout" "$R/$c/stderr" 2>/dev/null | head -1)"
	done
}
