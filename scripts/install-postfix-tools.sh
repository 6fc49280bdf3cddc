#!/bin/sh
# Installs Postfix only for its smtp-sink and smtp-source tools (benchmarks); the mail daemon itself
# is never configured nor left running. Idempotent: does nothing when both tools are present.
set -eu

have_tools() {
  for t in smtp-sink smtp-source; do
    command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || return 1
  done
}

if have_tools; then
  echo "postfix tools: already installed ($(command -v smtp-sink || echo /usr/sbin/smtp-sink))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
# policy-rc.d answering 101 keeps the package scripts from starting the daemon.
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod +x "$POLICY"
  CREATED_POLICY=1
fi
cleanup() { if [ "$CREATED_POLICY" = 1 ]; then $SUDO rm -f "$POLICY"; fi; }
trap cleanup EXIT

$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postfix >/dev/null

# In case something started it anyway (containers without policy-rc.d support).
$SUDO postfix stop >/dev/null 2>&1 || true
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now postfix >/dev/null 2>&1 || true; fi

have_tools || { echo "postfix tools: smtp-sink/smtp-source not found after install" >&2; exit 1; }
echo "postfix tools: installed (/usr/sbin/smtp-sink, /usr/sbin/smtp-source)"
