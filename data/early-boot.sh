#!/bin/sh
# ovirt-node early boot: find the image slot named on the kernel command line, mount
# its read-only squashfs under a RAM overlay at /sysroot, mount the CONFIG partition
# at /sysroot/config, put the persisted paths listed in /config/files back in place
# and switch to the new root.
#
# Usage:
#   early-boot.sh [boot]                 the initramfs's job, run as PID 1; ends in
#                                        switch_root to /sbin/init
#   early-boot.sh mount                  the same without switch_root (for a dracut
#                                        hook: dracut switches root itself)
#   early-boot.sh replay [CONFIG [ROOT]] replay CONFIG/files (default /config) onto
#                                        ROOT (default /), e.g. on the running system
#
# Kernel command line: root=live:LABEL=<label> (or root=live:/dev/<device>) names the
# slot; "stateless" leaves every local disk alone except the slot, which is mounted
# read-only.
#
# It sources node-lib.sh, the helpers it shares with boot-ok.sh, from beside itself
# (or from OVIRT_NODE_LIB); without it, the boot fails as on any other error.
#
# Portable POSIX sh: it runs under busybox sh and dash, with busybox's tools or
# util-linux's. No "local", no arrays, no bashisms.

set -f  # no pathname expansion anywhere: paths come from disks and the command line

SYSROOT=${OVIRT_NODE_SYSROOT:-/sysroot}
RUN_DIR=${OVIRT_NODE_RUN_DIR:-/run/ovirt-node}
CMDLINE_FILE=${OVIRT_NODE_CMDLINE:-/proc/cmdline}
SLOT_WAIT=${OVIRT_NODE_SLOT_WAIT:-10}      # seconds to wait for the slot's disk
CONFIG_WAIT=${OVIRT_NODE_CONFIG_WAIT:-3}   # and for CONFIG once the slot is there
TRIAL_WAIT=${OVIRT_NODE_TRIAL_WAIT:-10}    # before a failed trial boot restarts
PATH=/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}
export PATH

MODE=${1:-boot}
case $MODE in
    replay) LOG=stderr ;;  # on the running system
    *) LOG=/dev/console ;;
esac

# One line on the console (boot) or on stderr (replay), always prefixed.
say() {
    if [ "$LOG" = stderr ] || ! { printf 'ovirt-node: %s\n' "$*" >"$LOG"; } 2>/dev/null; then
        printf 'ovirt-node: %s\n' "$*" >&2
    fi
}

# A boot that cannot go on: one clear line, then a shell on the console (or power off
# for tests); outside PID 1 (a dracut hook) the caller decides.
fail() {
    say "boot failed: $*"
    if [ "$MODE" != boot ] || [ "$$" != 1 ]; then
        exit 1
    fi
    # (cmdline_flag is in node-lib.sh: without the library, no test power-off)
    if command -v cmdline_flag >/dev/null 2>&1 && cmdline_flag ovirt.test_poweroff; then
        sync
        poweroff -f
    fi
    # An upgraded image on its trial boot (grub adds ovirt.trial): restart, and grub
    # boots the previous image, with nobody at the console.
    if command -v cmdline_flag >/dev/null 2>&1 && cmdline_flag ovirt.trial; then
        say "the upgraded image failed its trial boot: restarting in ${TRIAL_WAIT} s; the previous image boots next"
        sleep "$TRIAL_WAIT"
        sync
        reboot -f
    fi
    say "starting a shell on the console; the boot cannot continue"
    while :; do
        if command -v cttyhack >/dev/null 2>&1; then
            setsid cttyhack sh -l
        else
            sh -l </dev/console >/dev/console 2>&1
        fi
        sleep 1
    done
}

# The helpers shared with boot-ok.sh (read_cmdline, cmdline_value, cmdline_flag,
# device_for_label): node-lib.sh beside this script, or $OVIRT_NODE_LIB.
case $0 in
    */*) NODE_LIB=${OVIRT_NODE_LIB:-${0%/*}/node-lib.sh} ;;
    *) NODE_LIB=${OVIRT_NODE_LIB:-./node-lib.sh} ;;  # "sh early-boot.sh" in its own folder
esac
[ -r "$NODE_LIB" ] || fail "cannot read $NODE_LIB, the shell library of this script"
. "$NODE_LIB"

# Whether something is mounted on PATH (a directory or a file), from mountinfo.
is_mountpoint() {
    [ -r /proc/self/mountinfo ] || return 1
    awk -v p="$1" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# The replay's view of the mount points: mountinfo read once (as mountinfo spells
# them), then each bind mount it makes added, so a long list costs no awk per path.
NL='
'
REPLAY_MOUNTS=
replay_read_mounts() {
    REPLAY_MOUNTS=$(awk '{ print $5 }' /proc/self/mountinfo 2>/dev/null)
}
replay_mounted() {
    case "$NL$REPLAY_MOUNTS$NL" in
        *"$NL$1$NL"*) return 0 ;;
    esac
    return 1
}

# Like device_for_label, but give slow disks up to $2 seconds to appear.
wait_for_label() {
    wl_ticks=$(( $2 * 5 ))
    while :; do
        device_for_label "$1" && return 0
        [ "$wl_ticks" -gt 0 ] || return 1
        wl_ticks=$((wl_ticks - 1))
        # A fractional sleep is not POSIX: fall back to whole seconds (and fewer ticks).
        if ! sleep 0.2 2>/dev/null; then
            sleep 1
            wl_ticks=$((wl_ticks - 4))
        fi
    done
}

# KEY's value in a shell KEY=VALUE file, without surrounding quotes.
file_value() {
    fv_value=$(sed -n "s/^$2=//p" "$1" 2>/dev/null | tail -n 1)
    case $fv_value in
        \"*\") fv_value=${fv_value#\"}; fv_value=${fv_value%\"} ;;
        \'*\') fv_value=${fv_value#\'}; fv_value=${fv_value%\'} ;;
    esac
    printf '%s' "$fv_value"
}

# ROOT + PATH with every symlink in PATH's parent directories resolved inside ROOT, the
# way a process chrooted into ROOT would see them, so that an absolute link such as
# /var/run -> /run cannot lead out of ROOT. The last component is not followed.
path_in_root() {
    pr_root=$1
    pr_rest=${2#/}
    pr_out=
    pr_hops=0
    while [ -n "$pr_rest" ]; do
        pr_comp=${pr_rest%%/*}
        case $pr_rest in
            */*) pr_rest=${pr_rest#*/} ;;
            *) pr_rest= ;;
        esac
        case $pr_comp in
            ''|.) continue ;;
            ..) pr_out=${pr_out%/*}; continue ;;
        esac
        if [ -z "$pr_rest" ]; then
            pr_out=$pr_out/$pr_comp
        elif [ -L "$pr_root$pr_out/$pr_comp" ]; then
            pr_hops=$((pr_hops + 1))
            [ "$pr_hops" -le 40 ] || return 1
            pr_link=$(readlink "$pr_root$pr_out/$pr_comp") || return 1
            case $pr_link in
                /*) pr_out= ;;
            esac
            pr_rest=${pr_link#/}/$pr_rest
        else
            pr_out=$pr_out/$pr_comp
        fi
    done
    printf '%s\n' "$pr_root$pr_out"
}

# Put one persisted path back: $1 config dir, $2 root ("" for /), $3 the absolute path.
# Status 0 when it is in place, 1 (with a logged line) when it was skipped.
replay_one() {
    ro_src=$1$3
    if [ -n "$2" ]; then
        ro_dst=$(path_in_root "$2" "$3") || {
            say "skipped $3: too many symlinks on its way"
            return 1
        }
    else
        ro_dst=$3
    fi
    ro_parent=${ro_dst%/*}
    [ -n "$ro_parent" ] || ro_parent=/

    if [ -L "$ro_src" ]; then
        ro_target=$(readlink "$ro_src") || { say "skipped $3: cannot read its link"; return 1; }
        if [ -L "$ro_dst" ] && [ "$(readlink "$ro_dst")" = "$ro_target" ]; then
            return 0
        fi
        if replay_mounted "$ro_dst"; then
            say "skipped $3: something is mounted there"
            return 1
        fi
        if [ -d "$ro_dst" ] && [ ! -L "$ro_dst" ]; then
            rmdir "$ro_dst" 2>/dev/null || {
                say "skipped $3: a non-empty directory is in the way of the link"
                return 1
            }
        elif [ -e "$ro_dst" ] || [ -L "$ro_dst" ]; then
            rm -f "$ro_dst" || { say "skipped $3: cannot remove what is there"; return 1; }
        fi
        if mkdir -p "$ro_parent" && ln -s "$ro_target" "$ro_dst"; then
            return 0
        fi
        say "skipped $3: cannot create the link"
        return 1
    fi

    if [ ! -e "$ro_src" ]; then
        say "skipped $3: no persisted copy in $1"
        return 1
    fi
    if replay_mounted "$ro_dst"; then
        return 0  # already in place (a second replay on the running system)
    fi
    if [ -L "$ro_dst" ]; then
        # A bind mount would follow the link; the persisted copy replaces it instead.
        rm -f "$ro_dst" || { say "skipped $3: cannot remove the link there"; return 1; }
    fi
    if [ -d "$ro_src" ]; then
        if [ ! -e "$ro_dst" ]; then
            mkdir -p "$ro_dst" || { say "skipped $3: cannot create a mount point"; return 1; }
        elif [ ! -d "$ro_dst" ]; then
            say "skipped $3: the persisted copy is a directory, the system has a file"
            return 1
        fi
    else
        if [ ! -e "$ro_dst" ]; then
            if ! { mkdir -p "$ro_parent" && : >"$ro_dst"; } 2>/dev/null; then
                say "skipped $3: cannot create a mount point"
                return 1
            fi
        elif [ -d "$ro_dst" ]; then
            say "skipped $3: the persisted copy is a file, the system has a directory"
            return 1
        fi
    fi
    if ! ro_err=$(mount --bind "$ro_src" "$ro_dst" 2>&1); then
        say "skipped $3: bind mount failed: $ro_err"
        return 1
    fi
    REPLAY_MOUNTS=$REPLAY_MOUNTS$NL$ro_dst
    return 0
}

# Replay CONFIG/files onto ROOT: each line an absolute path whose persisted copy is
# CONFIG/<path>. One bad entry is logged and skipped; this never fails.
replay() {
    rp_config=${1:-/config}
    rp_config=${rp_config%/}
    rp_root=${2:-}
    rp_root=${rp_root%/}
    rp_list=$rp_config/files
    [ -f "$rp_list" ] || return 0
    replay_read_mounts
    rp_done=0
    rp_skipped=0
    while IFS= read -r rp_path || [ -n "$rp_path" ]; do
        case $rp_path in
            ''|'#'*) continue ;;
            /*) ;;
            *) say "skipped '$rp_path' in $rp_list: not an absolute path"
               rp_skipped=$((rp_skipped + 1)); continue ;;
        esac
        case $rp_path/ in
            */../*|*/./*)
                say "skipped '$rp_path' in $rp_list: it has . or .. in it"
                rp_skipped=$((rp_skipped + 1)); continue ;;
        esac
        while :; do
            case $rp_path in
                *//*) rp_path=$(printf '%s' "$rp_path" | tr -s /) ;;
                ?*/) rp_path=${rp_path%/} ;;
                *) break ;;
            esac
        done
        case $rp_path in
            /|/config|/config/*)
                say "skipped '$rp_path' in $rp_list: not a path that can be persisted"
                rp_skipped=$((rp_skipped + 1)); continue ;;
        esac
        if replay_one "$rp_config" "$rp_root" "$rp_path"; then
            rp_done=$((rp_done + 1))
        else
            rp_skipped=$((rp_skipped + 1))
        fi
    done <"$rp_list"
    if [ "$rp_skipped" -gt 0 ]; then
        say "restored $rp_done persisted paths, skipped $rp_skipped"
    fi
    return 0
}

# Mount the slot, its squashfs and the overlay at SYSROOT; restore /config unless
# stateless. Sets SLOT_LABEL, SLOT_DEVICE and the image's version fields.
mount_sysroot() {
    read_cmdline
    ms_root=$(cmdline_value root) || fail "no root=live:LABEL=<slot> on the kernel command line"
    case $ms_root in
        live:LABEL=*|live:CDLABEL=*) SLOT_LABEL=${ms_root#live:*LABEL=} ;;
        live:/dev/*) SLOT_LABEL=${ms_root#live:} ;;
        *) fail "root=$ms_root is not of the form root=live:LABEL=<slot>" ;;
    esac
    [ -n "$SLOT_LABEL" ] || fail "root=$ms_root names no slot"

    if command -v modprobe >/dev/null 2>&1; then
        modprobe -q -a loop squashfs overlay >/dev/null 2>&1
    fi

    case $SLOT_LABEL in
        /dev/*)
            SLOT_DEVICE=$SLOT_LABEL
            ms_ticks=$((SLOT_WAIT * 5))
            while [ ! -b "$SLOT_DEVICE" ] && [ "$ms_ticks" -gt 0 ]; do
                sleep 0.2 2>/dev/null || sleep 1
                ms_ticks=$((ms_ticks - 1))
            done
            [ -b "$SLOT_DEVICE" ] || fail "the slot device $SLOT_DEVICE did not appear"
            ;;
        *)
            SLOT_DEVICE=$(wait_for_label "$SLOT_LABEL" "$SLOT_WAIT") ||
                fail "no disk has a filesystem labelled $SLOT_LABEL (waited ${SLOT_WAIT} s)"
            ;;
    esac

    ms_slot=$RUN_DIR/slot
    ms_squash=$RUN_DIR/squashfs
    ms_rw=$RUN_DIR/overlay
    mkdir -p "$ms_slot" "$ms_squash" "$ms_rw" "$SYSROOT" ||
        fail "cannot create the mount points under $RUN_DIR"
    ms_err=$(mount -o ro "$SLOT_DEVICE" "$ms_slot" 2>&1) ||
        fail "cannot mount slot $SLOT_LABEL ($SLOT_DEVICE): $ms_err"
    [ -f "$ms_slot/LiveOS/squashfs.img" ] ||
        fail "slot $SLOT_LABEL ($SLOT_DEVICE) has no LiveOS/squashfs.img"
    ms_err=$(mount -t squashfs -o ro,loop "$ms_slot/LiveOS/squashfs.img" "$ms_squash" 2>&1) ||
        fail "cannot mount LiveOS/squashfs.img of slot $SLOT_LABEL: $ms_err"
    ms_err=$(mount -t tmpfs -o mode=0755 tmpfs "$ms_rw" 2>&1) ||
        fail "cannot mount a tmpfs for the overlay: $ms_err"
    mkdir -p "$ms_rw/upper" "$ms_rw/work" || fail "cannot prepare the overlay"
    ms_err=$(mount -t overlay overlay \
        -o "lowerdir=$ms_squash,upperdir=$ms_rw/upper,workdir=$ms_rw/work" "$SYSROOT" 2>&1) ||
        fail "cannot mount the overlay root: $ms_err"

    PRODUCT=$(file_value "$ms_slot/version" PRODUCT)
    VERSION=$(file_value "$ms_slot/version" VERSION)
    RELEASE=$(file_value "$ms_slot/version" RELEASE)

    if cmdline_flag stateless; then
        STATELESS=yes
        return 0
    fi
    STATELESS=no
    ms_config=$(wait_for_label CONFIG "$CONFIG_WAIT") || {
        say "no CONFIG partition: nothing persisted to restore"
        return 0
    }
    mkdir -p "$SYSROOT/config" 2>/dev/null
    if ! ms_err=$(mount "$ms_config" "$SYSROOT/config" 2>&1); then
        say "cannot mount CONFIG ($ms_config): $ms_err; nothing persisted restored"
        return 0
    fi
    replay "$SYSROOT/config" "$SYSROOT"
}

announce() {
    say "booted ${PRODUCT:-an unnamed image} ${VERSION:-?}-${RELEASE:-?} from slot $SLOT_LABEL"
    if [ "$STATELESS" = yes ]; then
        say "stateless, local storage untouched"
    fi
}

case $MODE in
    boot)
        # The kernel's filesystems go along into the new root; /run becomes a tmpfs of
        # its own so that it (with the slot's mounts under it) can move there too.
        is_mountpoint /run || mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run 2>/dev/null
        mount_sysroot
        [ -x "$SYSROOT/sbin/init" ] || [ -L "$SYSROOT/sbin/init" ] ||
            fail "the image of slot $SLOT_LABEL has no /sbin/init"
        announce
        for bt_dir in /run /dev /proc /sys; do
            if [ -d "$SYSROOT$bt_dir" ] && is_mountpoint "$bt_dir"; then
                mount --move "$bt_dir" "$SYSROOT$bt_dir" 2>/dev/null
            fi
        done
        exec switch_root "$SYSROOT" /sbin/init
        ;;
    mount)
        mount_sysroot
        announce
        ;;
    replay)
        replay "${2:-/config}" "${3:-}"
        ;;
    *)
        echo "usage: $0 [boot | mount | replay [CONFIG [ROOT]]]" >&2
        exit 2
        ;;
esac
