# shellcheck shell=bash
# Sourced by every shim: appends "<name> <args>" to $SHIM_LOG (one line per call).
record() { printf '%s' "$(basename "$0")" >>"$SHIM_LOG"; printf ' %s' "$@" >>"$SHIM_LOG"; printf '\n' >>"$SHIM_LOG"; }
