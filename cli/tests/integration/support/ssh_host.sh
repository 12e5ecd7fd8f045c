#!/usr/bin/env bash
# Builds the root filesystem of a throwaway SSH host for bootstrap tests from this machine's own
# binaries: sshd, ssh-keygen, ssh-keyscan, the docker CLI (talking to the host's engine through a
# mounted socket), static busybox for the shell tools, and a `systemctl` that records its calls.
# Usage: ssh_host.sh CONTEXT_DIR AUTHORIZED_KEY_FILE
set -euo pipefail
context=$1
authorized=$2
root=$context/root
rm -rf "$root"
mkdir -p "$root"/{bin,usr/bin,usr/local/bin,etc/systemd/system,run/sshd,root/.ssh,tmp,var/log,var/empty}
copy() {
  for binary in "$@"; do
    mkdir -p "$root$(dirname "$binary")"
    cp -L "$binary" "$root$binary"
    for lib in $(ldd "$binary" 2>/dev/null | grep -o '/[^ ]*'); do
      mkdir -p "$root$(dirname "$lib")"
      cp -Ln "$lib" "$root$lib"
    done
  done
}
copy /usr/sbin/sshd /usr/bin/ssh-keygen /usr/bin/ssh-keyscan /usr/bin/docker
for helper in /usr/lib/openssh/sshd-session /usr/lib/openssh/sshd-auth; do
  [ -e "$helper" ] && copy "$helper"
done
cp -L /lib/x86_64-linux-gnu/libnss_files.so.2 "$root/lib/x86_64-linux-gnu/" 2>/dev/null || true
cp /bin/busybox "$root/bin/busybox"
for tool in sh cat mkdir chmod mv rm sha256sum test ls cp id grep sed env dirname touch printf true false head tail cut; do
  ln -sf /bin/busybox "$root/bin/$tool"
done
printf 'root:x:0:0:root:/root:/bin/sh\nsshd:x:103:65534::/run/sshd:/bin/false\nnobody:x:65534:65534::/nonexistent:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
printf 'root:*:19000:0:99999:7:::\n' > "$root/etc/shadow"
printf 'passwd: files\ngroup: files\nshadow: files\n' > "$root/etc/nsswitch.conf"
cat > "$root/usr/bin/systemctl" <<'SH'
#!/bin/sh
# This host has no systemd: record every call.
echo "systemctl $*" >> /var/log/systemctl.log
SH
chmod +x "$root/usr/bin/systemctl"
ssh-keygen -q -t ed25519 -N '' -f "$root/etc/ssh_host_ed25519_key"
cp "$authorized" "$root/root/.ssh/authorized_keys"
cat > "$root/etc/sshd_config" <<'CONF'
Port 22
HostKey /etc/ssh_host_ed25519_key
AuthorizedKeysFile /root/.ssh/authorized_keys
PidFile /run/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
PermitRootLogin prohibit-password
SetEnv PATH=/usr/local/bin:/usr/bin:/bin
CONF
printf 'FROM scratch\nCOPY root /\nCMD ["/usr/sbin/sshd", "-D", "-e", "-f", "/etc/sshd_config"]\n' > "$context/Dockerfile"
