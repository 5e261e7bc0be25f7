#!/usr/bin/env bash
# OpenSSH's sshd for the SSH tests (Debian's openssh-server). Exit 0 when /usr/sbin/sshd is there;
# otherwise one line on stderr saying why not, and exit 77 (the SSH tests then skip with that reason).
set -u
[[ -x /usr/sbin/sshd ]] && exit 0
command -v apt-get >/dev/null || { echo "openssh-server not installed and no apt-get here: the SSH tests skip" >&2; exit 77; }
[[ "$(id -u)" == 0 ]] || { echo "openssh-server not installed and apt-get needs root: the SSH tests skip" >&2; exit 77; }
export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y -qq --no-install-recommends openssh-server >/dev/null 2>&1; }
apt_install || { apt-get update -qq >/dev/null 2>&1 && apt_install; } || {
  echo "apt-get could not install openssh-server: the SSH tests skip" >&2; exit 77; }
[[ -x /usr/sbin/sshd ]] || { echo "openssh-server installed no /usr/sbin/sshd: the SSH tests skip" >&2; exit 77; }
