#!/bin/sh
# ovirt-node boot-ok: once the system is up, tell grub that the image on trial came up.
#
# An upgrade leaves boot_trial=pending in grub's environment block (/EFI/BOOT/grubenv
# on the EFI system partition); grub turns it into "trying" when it boots the slot
# labelled Root, and into "failed" (then boots RootBackup) if it still finds "trying"
# at the next boot (installer/slots.py, data/grub.cfg.in). This script is the part on
# the booted node: booted from Root with boot_trial=trying, it clears the trial
# (boot_trial= empty) so that later boots stay on the new image. Anything else it
# leaves as it is; booted from RootBackup after a failed trial, it says so in one line.
#
# Usage:
#   boot-ok.sh [mark]         on the booted node: find the ESP on the disk of the booted
#                             slot, mount it under /run/ovirt-node, update grubenv
#   boot-ok.sh file GRUBENV   the same decision and edit on the file GRUBENV (tests);
#                             the booted slot comes from the kernel command line
#
# Exit status: 0 the trial was cleared, or there was nothing to do (no trial, another
# slot, "stateless" on the kernel command line, not booted from an installed slot);
# 1 the trial should have been cleared but the environment block could not be found,
# read or written (the boot itself goes on: nothing waits for this script); 2 usage.
#
# Kernel command line: root=live:LABEL=<slot> (or root=live:/dev/<device>) names the
# booted slot, as for data/early-boot.sh; "stateless" leaves every local disk alone.
#
# The environment block is edited in place, as grub edits it: the same size (1024
# bytes as made by grub-editenv), the header line, NAME=VALUE lines, then "#" padding;
# written over the old bytes with dd conv=notrunc, then synced.
#
# It sources node-lib.sh, the helpers it shares with early-boot.sh, from beside itself
# (or from OVIRT_NODE_LIB); without it, it says so and exits with status 1.
#
# Environment (tests): OVIRT_NODE_CMDLINE (default /proc/cmdline), OVIRT_NODE_RUN_DIR
# (default /run/ovirt-node), OVIRT_NODE_SYSFS (default /sys), OVIRT_NODE_LIB (default
# node-lib.sh beside this script).
#
# Portable POSIX sh: it runs under busybox sh and dash, with busybox's tools or
# util-linux's. No "local", no arrays, no bashisms.

set -f  # no pathname expansion anywhere: paths come from disks and the command line

RUN_DIR=${OVIRT_NODE_RUN_DIR:-/run/ovirt-node}
CMDLINE_FILE=${OVIRT_NODE_CMDLINE:-/proc/cmdline}
SYSFS=${OVIRT_NODE_SYSFS:-/sys}
PATH=/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}
export PATH
LC_ALL=C  # awk, wc and tr count and match bytes
export LC_ALL

MODE=${1:-mark}
ENV_HEADER='# GRUB Environment Block'
ENV_NAME=/EFI/BOOT/grubenv
ENV_MAX=65536  # a block larger than this is no grub environment block
TRIAL=boot_trial
ROOT_SLOT=Root
BACKUP_SLOT=RootBackup

# One line on stderr, always prefixed (the journal, or the console under a plain init).
say() {
    printf 'ovirt-node: %s\n' "$*" >&2
}

# The helpers shared with early-boot.sh (read_cmdline, cmdline_value, cmdline_flag,
# device_for_label): node-lib.sh beside this script, or $OVIRT_NODE_LIB.
case $0 in
    */*) NODE_LIB=${OVIRT_NODE_LIB:-${0%/*}/node-lib.sh} ;;
    *) NODE_LIB=${OVIRT_NODE_LIB:-./node-lib.sh} ;;  # "sh boot-ok.sh" in its own folder
esac
[ -r "$NODE_LIB" ] || {
    say "cannot read $NODE_LIB, the shell library of this script; boot trial not checked"
    exit 1
}
. "$NODE_LIB"

# The booted slot from root=live:LABEL=<slot> or root=live:/dev/<device>: sets
# SLOT_LABEL (the label, or the device path); status 1 when root= names no live slot.
booted_slot() {
    bs_root=$(cmdline_value root) || return 1
    case $bs_root in
        live:LABEL=*|live:CDLABEL=*) SLOT_LABEL=${bs_root#live:*LABEL=} ;;
        live:/dev/*) SLOT_LABEL=${bs_root#live:} ;;
        *) return 1 ;;
    esac
    [ -n "$SLOT_LABEL" ]
}

# -- grub's environment block ------------------------------------------------------------

# Whether $1 looks like a grub environment block: the header line, a sane size.
env_valid() {
    [ -f "$1" ] || return 1
    ev_size=$(wc -c <"$1" 2>/dev/null | tr -d ' ') || return 1
    case $ev_size in
        ''|*[!0-9]*) return 1 ;;
    esac
    [ "$ev_size" -gt ${#ENV_HEADER} ] && [ "$ev_size" -le "$ENV_MAX" ] || return 1
    [ "$(head -n 1 "$1" 2>/dev/null)" = "$ENV_HEADER" ]
}

# The value of variable $2 in the environment block $1 (empty when it is not set).
# grub escapes a backslash or a newline inside a value with a backslash: a line that
# ends in an odd number of backslashes goes on in the next line.
env_get() {
    awk -v name="$2" '
        function continues(line) {
            return match(line, /\\+$/) && RLENGTH % 2 == 1
        }
        NR == 1 { next }
        cont { cont = continues($0); next }
        /^#/ { next }  # a comment: no escapes in it
        { cont = continues($0) }
        index($0, name "=") == 1 { value = substr($0, length(name) + 2) }
        END { printf "%s", value }
    ' "$1"
}

# Write the block $1 with variable $2 set to the empty value into the file $3, padded
# with "#" to the size of $1; status 1 if it does not fit or cannot be written.
# Comment lines stay; the old padding and any "#"-only lines at the end are dropped.
env_cleared_copy() {
    ec_size=$(wc -c <"$1" | tr -d ' ')
    awk -v name="$2" '
        function continues(line) {
            return match(line, /\\+$/) && RLENGTH % 2 == 1
        }
        NR == 1 { print; next }
        skip { skip = continues($0); next }  # the rest of the old value
        cont { flush(); print; cont = continues($0); next }
        /^#*$/ { held[n++] = $0; next }  # padding, unless more lines follow
        { flush() }
        index($0, name "=") == 1 { print name "="; skip = continues($0); next }
        { print; cont = $0 !~ /^#/ && continues($0) }  # no escapes in a comment
        function flush(i) {
            for (i = 0; i < n; i++) print held[i]
            n = 0
        }
    ' "$1" >"$3" || return 1
    ec_len=$(wc -c <"$3" | tr -d ' ')
    [ "$ec_len" -le "$ec_size" ] || return 1
    if [ "$ec_len" -lt "$ec_size" ]; then
        dd if=/dev/zero bs=$((ec_size - ec_len)) count=1 2>/dev/null | tr '\000' '#' >>"$3" ||
            return 1
    fi
    [ "$(wc -c <"$3" | tr -d ' ')" = "$ec_size" ]
}

# Clear variable $2 in the environment block $1 in place: the same size, written over
# the old bytes (no truncation, no new file), then synced and read back.
env_clear() {
    ecl_tmp=$(mktemp "${TMPDIR:-/tmp}/ovirt-node-grubenv.XXXXXX") || return 1
    if ! env_cleared_copy "$1" "$2" "$ecl_tmp"; then
        rm -f "$ecl_tmp"
        return 1
    fi
    ecl_size=$(wc -c <"$ecl_tmp" | tr -d ' ')
    if ! dd if="$ecl_tmp" of="$1" bs="$ecl_size" count=1 conv=notrunc 2>/dev/null; then
        rm -f "$ecl_tmp"
        return 1
    fi
    sync
    cmp -s "$ecl_tmp" "$1"
    ecl_status=$?
    rm -f "$ecl_tmp"
    return $ecl_status
}

# The decision, on the environment block $1 (writable when the trial is to be cleared)
# of a system booted from slot $SLOT_LABEL. Status 0 or 1 as the script's exit status.
decide() {
    if ! env_valid "$1"; then
        say "$1 is not a grub environment block; boot trial not checked"
        return 1
    fi
    dc_trial=$(env_get "$1" "$TRIAL")
    case $SLOT_LABEL:$dc_trial in
        "$ROOT_SLOT:trying")
            if env_clear "$1" "$TRIAL" && [ -z "$(env_get "$1" "$TRIAL")" ]; then
                say "the upgraded image came up: boot trial passed, it stays the default"
                return 0
            fi
            say "cannot clear the boot trial in $1: the next boot falls back to slot $BACKUP_SLOT"
            return 1
            ;;
        "$BACKUP_SLOT:failed")
            say "running the backup image (slot $BACKUP_SLOT): the upgraded image in slot $ROOT_SLOT did not come up"
            ;;
    esac
    return 0
}

# -- finding the ESP -----------------------------------------------------------------------

# The device the booted slot lives on: the one early boot mounted at RUN_DIR/slot
# (it stays there), else the one carrying the slot's label.
slot_device() {
    if [ -r /proc/self/mountinfo ]; then
        sd_dev=$(awk -v p="$RUN_DIR/slot" '
            $5 == p { for (i = 7; i <= NF; i++) if ($i == "-") { dev = $(i + 2); break } }
            END { print dev }' /proc/self/mountinfo)
        case $sd_dev in
            /dev/*) [ -b "$sd_dev" ] && { printf '%s\n' "$sd_dev"; return 0; } ;;
        esac
    fi
    case $SLOT_LABEL in
        /dev/*) [ -b "$SLOT_LABEL" ] && { printf '%s\n' "$SLOT_LABEL"; return 0; } ;;
        *) device_for_label "$SLOT_LABEL" && return 0 ;;
    esac
    return 1
}

# The disk (its name under /sys/class/block) that partition $1 (a name) is part of.
parent_disk() {
    [ -f "$SYSFS/class/block/$1/partition" ] || return 1
    pd_path=$(readlink -f "$SYSFS/class/block/$1") || return 1
    pd_path=${pd_path%/*}
    printf '%s\n' "${pd_path##*/}"
}

# The partitions of disk $1 (names), one a line, in the kernel's order.
disk_partitions() {
    for dp_name in $(ls "$SYSFS/class/block/$1/" 2>/dev/null); do
        if [ -f "$SYSFS/class/block/$1/$dp_name/partition" ]; then
            printf '%s %s\n' "$(cat "$SYSFS/class/block/$1/$dp_name/partition")" "$dp_name"
        fi
    done | sort -n | while read -r dp_number dp_name; do
        printf '%s\n' "$dp_name"
    done
}

# Whether the block device $1 holds a FAT filesystem: blkid's TYPE when there is a
# blkid (util-linux or busybox), else the boot sector's signature and FAT type field.
is_vfat() {
    if command -v blkid >/dev/null 2>&1; then
        iv_type=$(blkid "$1" 2>/dev/null | sed -n 's/.* TYPE="\([^"]*\)".*/\1/p')
        case $iv_type in
            vfat|msdos|fat) return 0 ;;
            ?*) return 1 ;;
        esac
    fi
    [ "$(dd if="$1" bs=1 skip=510 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 55aa ] ||
        return 1
    case $(dd if="$1" bs=1 skip=54 count=5 2>/dev/null):$(dd if="$1" bs=1 skip=82 count=5 \
            2>/dev/null) in
        FAT1[26]*|*:FAT32) return 0 ;;
    esac
    return 1
}

ESP_MNT=
cleanup() {
    if [ -n "$ESP_MNT" ]; then
        umount "$ESP_MNT" 2>/dev/null || umount -l "$ESP_MNT" 2>/dev/null
        rmdir "$ESP_MNT" 2>/dev/null
        ESP_MNT=
    fi
}

# Mount each FAT partition of disk $1 read-only at ESP_MNT until one holds grubenv;
# status 1 (nothing mounted) if none does.
mount_esp() {
    for me_part in $(disk_partitions "$1"); do
        is_vfat "/dev/$me_part" || continue
        mount -t vfat -o ro "/dev/$me_part" "$ESP_MNT" 2>/dev/null || continue
        if [ -f "$ESP_MNT$ENV_NAME" ]; then
            ESP_DEVICE=/dev/$me_part
            return 0
        fi
        umount "$ESP_MNT" 2>/dev/null
    done
    return 1
}

mark() {
    read_cmdline
    if cmdline_flag stateless; then
        return 0  # local storage stays untouched
    fi
    booted_slot || return 0  # not a live image slot: no trial to look at
    case $SLOT_LABEL in
        "$ROOT_SLOT"|"$BACKUP_SLOT") ;;
        *) return 0 ;;  # a live medium, or a slot being written: not an installed boot
    esac
    mk_dev=$(slot_device) || {
        say "cannot find the device of slot $SLOT_LABEL; boot trial not checked"
        return 1
    }
    mk_disk=$(parent_disk "${mk_dev##*/}") || {
        say "slot $SLOT_LABEL ($mk_dev) is not a partition of a disk; boot trial not checked"
        return 1
    }
    mkdir -p "$RUN_DIR" || return 1
    ESP_MNT=$RUN_DIR/boot-ok-esp.$$
    mkdir "$ESP_MNT" 2>/dev/null || {
        say "cannot create a mount point under $RUN_DIR; boot trial not checked"
        ESP_MNT=
        return 1
    }
    trap cleanup EXIT
    trap 'exit 1' HUP INT TERM
    if command -v modprobe >/dev/null 2>&1; then
        modprobe -q -a vfat nls_cp437 nls_ascii >/dev/null 2>&1
    fi
    mount_esp "$mk_disk" || {
        say "no EFI system partition with $ENV_NAME on /dev/$mk_disk; boot trial not checked"
        rmdir "$ESP_MNT" 2>/dev/null
        ESP_MNT=
        return 1
    }
    mk_env=$ESP_MNT$ENV_NAME
    if [ "$SLOT_LABEL:$(env_get "$mk_env" "$TRIAL")" = "$ROOT_SLOT:trying" ]; then
        # Only now is the ESP made writable (a read-write mount marks FAT "in use").
        mk_err=$(mount -o remount,rw "$ESP_MNT" 2>&1) || {
            say "cannot mount $ESP_DEVICE for writing: $mk_err; the next boot falls back to slot $BACKUP_SLOT"
            cleanup
            return 1
        }
    fi
    decide "$mk_env"
    mk_status=$?
    cleanup
    return $mk_status
}

case $MODE in
    mark)
        mark
        exit $?
        ;;
    file)
        [ $# -eq 2 ] || { echo "usage: $0 file GRUBENV" >&2; exit 2; }
        read_cmdline
        cmdline_flag stateless && exit 0
        booted_slot || exit 0
        decide "$2"
        exit $?
        ;;
    *)
        echo "usage: $0 [mark | file GRUBENV]" >&2
        exit 2
        ;;
esac
