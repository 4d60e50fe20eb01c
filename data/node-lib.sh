# ovirt-node shell library: the helpers data/early-boot.sh and data/boot-ok.sh share.
# Not a program: each script sources it from beside itself (or from $OVIRT_NODE_LIB):
#
#   . "$NODE_LIB"
#
# It defines functions, turns on set -f (as the scripts do) and empties CMDLINE;
# read_cmdline reads the file named by CMDLINE_FILE, which the sourcing script sets.
#
# Portable POSIX sh: it runs under busybox sh and dash, with busybox's tools or
# util-linux's. No "local", no arrays, no bashisms. Each function's variables carry a
# prefix of its own, as "local" is not POSIX.

set -f  # no pathname expansion anywhere: paths come from disks and the command line

CMDLINE=
read_cmdline() {
    CMDLINE=$(cat "$CMDLINE_FILE" 2>/dev/null) || CMDLINE=
}

# The value of the last NAME=VALUE word of the command line; status 1 if there is none.
cmdline_value() {
    cv_found=1
    cv_value=
    for cv_word in $CMDLINE; do
        case $cv_word in
            "$1="*) cv_value=${cv_word#*=}; cv_found=0 ;;
        esac
    done
    printf '%s' "$cv_value"
    return $cv_found
}

# Whether a switch is on: a bare NAME or NAME=yes/true/on/1; the last word wins.
cmdline_flag() {
    cf_on=1
    for cf_word in $CMDLINE; do
        case $cf_word in
            "$1") cf_on=0 ;;
            "$1="*)
                case $(printf '%s' "${cf_word#*=}" | tr 'A-Z' 'a-z') in
                    1|yes|true|on) cf_on=0 ;;
                    *) cf_on=1 ;;
                esac ;;
        esac
    done
    return $cf_on
}

# The block device carrying the filesystem label $1; status 1 if none (yet).
device_for_label() {
    if [ -e "/dev/disk/by-label/$1" ]; then
        readlink -f "/dev/disk/by-label/$1" && return 0
    fi
    if command -v blkid >/dev/null 2>&1; then
        dl_dev=$(blkid -L "$1" 2>/dev/null)
        if [ -n "$dl_dev" ] && [ -b "$dl_dev" ]; then
            printf '%s\n' "$dl_dev"
            return 0
        fi
    fi
    if command -v findfs >/dev/null 2>&1; then
        dl_dev=$(findfs "LABEL=$1" 2>/dev/null)
        if [ -n "$dl_dev" ] && [ -b "$dl_dev" ]; then
            printf '%s\n' "$dl_dev"
            return 0
        fi
    fi
    return 1
}
