"""Kernel boot parameters → InstallPlan: every documented form, every refusal."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from installer.plan import DiskSelector
from ovirt_node_setup import bootparams
from ovirt_node_setup.errors import BootParameterError, ValidationError
from ovirt_node_setup.settings import Endpoint

SHA512 = ("$6$8Jk2mPq1$p5K7irwef.Ljt.50EPr/shD8tFzVhsAe2CarwWb9cDXuiYH8W6xMHZgTM2NqMT5mEbmkde"
          "WaX3gP7Z2FRsf/D1")
SHA256 = "$5$8Jk2mPq1$8WSxtSabGVFZGHzEc7frUae1qbQKasIe.bFr2Jcnv4C"


def net(cmdline):
    return bootparams.parse(cmdline).settings.network


# -- splitting the command line ------------------------------------------------------

@pytest.mark.parametrize(("cmdline", "expected"), [
    ("a b=c", [("a", None), ("b", "c")]),
    ('  a   b="x y"  ', [("a", None), ("b", "x y")]),
    ('"b=x y" c', [("b", "x y"), ("c", None)]),
    ("b==c", [("b", "=c")]),
    ("b=", [("b", "")]),
    ("\tx\ny", [("x", None), ("y", None)]),
])
def test_split_cmdline(cmdline, expected):
    assert [(a.name, a.value) for a in bootparams.split_cmdline(cmdline)] == expected


@pytest.mark.parametrize(("cmdline", "param"), [
    ('storage_init=/dev/sda hostname="node1', "hostname"),
    ('hostname=node1 storage_init=/dev/sda stateless"', "stateless"),
    ('a="x"y" z', "a"),
])
def test_unclosed_quote_is_refused_not_guessed(cmdline, param):
    with pytest.raises(BootParameterError, match="never closed") as caught:
        bootparams.split_cmdline(cmdline)
    assert caught.value.name == param


def test_split_keeps_exact_text_for_carrying_over():
    assert [a.text for a in bootparams.split_cmdline('x="a b" y')] == ['x="a b"', "y"]


# -- storage_init ----------------------------------------------------------------------

@pytest.mark.parametrize(("cmdline", "disks"), [
    ("storage_init", [DiskSelector("")]),
    ("storage_init=/dev/sda", [DiskSelector("/dev/sda", path="/dev/sda")]),
    ("storage_init=/dev/sda,/dev/sdb",
     [DiskSelector("/dev/sda", path="/dev/sda"), DiskSelector("/dev/sdb", path="/dev/sdb")]),
    ("storage_init=/srv/vm/disk.img", [DiskSelector("/srv/vm/disk.img", path="/srv/vm/disk.img")]),
    ("storage_init=usb", [DiskSelector("usb", bus="usb")]),
    ("storage_init=usb:4C5300012", [DiskSelector("usb:4C5300012", bus="usb", serial="4C5300012")]),
    ("storage_init=scsi:SQEMU_HARDDISK_1,ata",
     [DiskSelector("scsi:SQEMU_HARDDISK_1", bus="scsi", serial="SQEMU_HARDDISK_1"),
      DiskSelector("ata", bus="ata")]),
    ("storage_init=cciss", [DiskSelector("cciss", bus="cciss")]),
    ("storage_init=virtio:abc", [DiskSelector("virtio:abc", bus="virtio", serial="abc")]),
])
def test_storage_init_forms(cmdline, disks):
    plan = bootparams.parse(cmdline)
    assert plan.disks == disks
    assert plan.touches_disks


def test_bare_storage_init_means_first_disk():
    (disk,) = bootparams.parse("storage_init").disks
    assert disk.first and disk.describe() == "the first disk"


# -- storage_vol -----------------------------------------------------------------------

def sizes(cmdline):
    return bootparams.parse(cmdline).sizes_mb()


def test_storage_vol_positional_with_defaults():
    assert sizes("storage_vol=300:2048::16:1024:-1") == {
        "efi_mb": 300, "swap_mb": 2048, "root_mb": 4096, "config_mb": 16,
        "logging_mb": 1024, "data_mb": -1}


def test_storage_vol_all_empty_means_defaults():
    assert sizes("storage_vol=:::::") == sizes("")


def test_storage_vol_data_zero_means_none():
    assert sizes("storage_vol=:::::0")["data_mb"] == 0


def test_storage_vol_named():
    got = sizes("storage_vol=1024,Swap:8192,Root:-1,Data:32,config")
    assert (got["swap_mb"], got["root_mb"], got["data_mb"], got["config_mb"]) == (
        1024, 8192, -1, 32)


def test_storage_vol_short_positional():
    assert sizes("storage_vol=256:4096")["swap_mb"] == 4096


# -- network ---------------------------------------------------------------------------

def test_static_anaconda_style():
    n = net("ip=192.168.1.10 netmask=255.255.255.0 gateway=192.168.1.1")
    assert (n.ipv4_method, n.ipv4_address, n.ipv4_netmask, n.ipv4_gateway) == (
        "static", "192.168.1.10", "255.255.255.0", "192.168.1.1")


def test_netmask_as_prefix_length():
    assert net("ip=10.0.0.5 netmask=16").ipv4_netmask == "255.255.0.0"


def test_pxelinux_ip_form():
    n = net("ip=10.1.2.3:10.1.2.254:10.1.2.1:255.255.255.0")
    assert (n.ipv4_method, n.ipv4_address, n.ipv4_gateway, n.ipv4_netmask) == (
        "static", "10.1.2.3", "10.1.2.1", "255.255.255.0")


def test_kernel_ip_form_with_hostname_and_device():
    n = net("ip=10.1.2.3::10.1.2.1:255.255.255.0:node7.example.com:eth1:none")
    assert (n.hostname, n.bootif) == ("node7.example.com", "eth1")


def test_dracut_interface_dhcp_form():
    n = net("ip=eth1:dhcp")
    assert (n.bootif, n.ipv4_method) == ("eth1", "dhcp")


def test_kernel_ip_form_dhcp6_sets_ipv6():
    n = net("ip=:::::eth0:dhcp6")
    assert (n.bootif, n.ipv6_method, n.ipv4_method) == ("eth0", "dhcp", None)


def test_kernel_ip_form_netmask_as_prefix():
    assert net("ip=10.1.2.3::10.1.2.1:24").ipv4_netmask == "255.255.255.0"


def test_kernel_ip_form_without_client_is_dhcp():
    assert net("ip=::::node1:eth0:dhcp").ipv4_method == "dhcp"


@pytest.mark.parametrize(("value", "method"), [
    ("dhcp", "dhcp"), ("off", "off"), ("none", "off"), ("on", "dhcp"), ("DHCP", "dhcp")])
def test_ip_modes(value, method):
    assert net(f"ip={value}").ipv4_method == method


@pytest.mark.parametrize(("value", "method"), [("auto", "auto"), ("dhcp", "dhcp"), ("off", "off")])
def test_ipv6(value, method):
    assert net(f"ipv6={value}").ipv6_method == method


@pytest.mark.parametrize(("value", "expected"), [
    ("eth0", "eth0"), ("link", "link"), ("01-52-54-00-12-34-56", "52:54:00:12:34:56"),
    ("52:54:00:AB:CD:EF", "52:54:00:ab:cd:ef"), ("enp1s0f0", "enp1s0f0"), ("LINK", "link")])
def test_bootif_forms(value, expected):
    assert net(f"BOOTIF={value}").bootif == expected


def test_dns_ntp_hostname():
    n = net("dns=192.168.1.1,2001:db8::53 ntp=0.pool.ntp.org,10.0.0.1 hostname=Node1.Example.COM")
    assert n.dns == ["192.168.1.1", "2001:db8::53"]
    assert n.ntp == ["0.pool.ntp.org", "10.0.0.1"] and n.ntp_enabled is True
    assert n.hostname == "Node1.Example.COM"  # the user's spelling is kept


def test_ntp_off():
    n = net("ntp=off")
    assert n.ntp is None and n.ntp_enabled is False


def test_vlan_forms():
    assert (net("vlan=42").vlan_id, net("vlan=42").vlan_parent) == (42, None)
    assert (net("vlan=100:eth1").vlan_id, net("vlan=100:eth1").vlan_parent) == (100, "eth1")


def test_bond_with_options_and_colons():
    n = net("bond=bond0:eth0,eth1:mode=802.3ad,miimon=100,ad_actor_system=02:00:00:00:00:01")
    assert (n.bond_name, n.bond_slaves) == ("bond0", ["eth0", "eth1"])
    assert n.bond_options == "mode=802.3ad,miimon=100,ad_actor_system=02:00:00:00:00:01"


def test_bond_without_options():
    assert net("bond=bond1:eth2").bond_options is None


# -- other settings --------------------------------------------------------------------

def test_services_and_misc_settings():
    s = bootparams.parse(
        "ssh_pwauth=1 syslog=logs.example.com netconsole=10.0.0.9:6000 "
        "collectd=[2001:db8::9]:25827 management_server=engine.example.com "
        "logrotate_interval=weekly logrotate_max_size=2048 "
        "keyboard=de-latin1 tuned=virtual-host nfsv4_domain=example.com "
        "iscsi_name=iqn.2024-01.com.example:node1").settings
    assert s.security.ssh_pwauth is True
    assert s.logging.syslog == Endpoint("logs.example.com", 514)
    assert s.logging.netconsole == Endpoint("10.0.0.9", 6000)
    assert str(s.monitoring.collectd) == "[2001:db8::9]:25827"
    assert s.management.management_server == Endpoint("engine.example.com", 443)
    assert (s.logging.logrotate_interval, s.logging.logrotate_max_size) == ("weekly", 2048)
    assert s.keyboard.keyboard == "de-latin1"
    assert s.monitoring.tuned_profile == "virtual-host"
    assert s.remote_storage.nfsv4_domain == "example.com"
    assert s.remote_storage.iscsi_initiator_name == "iqn.2024-01.com.example:node1"


@pytest.mark.parametrize(("value", "on"), [("0", False), ("1", True), ("true", True),
                                           ("false", False)])
def test_ssh_pwauth_forms(value, on):
    assert bootparams.parse(f"ssh_pwauth={value}").settings.security.ssh_pwauth is on


@pytest.mark.parametrize(("cmdline", "mode", "nfs", "ssh"), [
    ("kdump_nfs=nfs.example.com:/var/crash", "nfs", "nfs.example.com:/var/crash", None),
    ("kdump_ssh=dump@crash.example.com", "ssh", None, "dump@crash.example.com"),
    ("disable_kdump", "disabled", None, None),
])
def test_kdump(cmdline, mode, nfs, ssh):
    k = bootparams.parse(cmdline).settings.kdump
    assert (k.kdump_mode, k.kdump_nfs, k.kdump_ssh) == (mode, nfs, ssh)


def test_passwords_are_kept_only_as_hashes():
    plan = bootparams.parse(f"adminpw={SHA512} rootpw={SHA256}")
    assert (plan.admin_password_hash, plan.root_password_hash) == (SHA512, SHA256)
    shown = str(plan.to_json()) + repr(plan)
    assert SHA512 not in shown and SHA256 not in shown
    assert plan.to_json()["admin_password"] == "set (SHA-512 crypt hash, not shown)"


@pytest.mark.parametrize("cmdline", ["install", "upgrade", "uninstall"])
def test_actions(cmdline):
    assert bootparams.parse(cmdline).action == cmdline


@pytest.mark.parametrize("flag", ["firstboot", "reinstall"])
def test_firstboot_and_reinstall(flag):
    assert bootparams.parse(f"storage_init {flag}").reinstall


def test_flag_with_boolean_value():
    assert bootparams.parse("firstboot=1").reinstall
    assert not bootparams.parse("firstboot=0").reinstall


def test_disks_alone_mean_install():
    assert bootparams.parse("storage_init").effective_action == "install"
    assert bootparams.parse("ip=dhcp").effective_action is None
    assert bootparams.parse("storage_init upgrade").effective_action == "upgrade"


def test_reboot_delay():
    assert bootparams.parse("reboot_delay=30").reboot_delay == 30


def test_stateless_touches_no_disk():
    plan = bootparams.parse("stateless ip=dhcp hostname=n1")
    assert plan.stateless and not plan.touches_disks and plan.disks == []
    assert plan.to_json()["touches_disks"] is False


# -- unknown parameters ----------------------------------------------------------------

def test_unknown_parameters_are_kept_verbatim_and_media_ones_dropped():
    plan = bootparams.parse(
        'BOOT_IMAGE=/vmlinuz0 root=live:CDLABEL=node rd.live.image quiet console=ttyS0,115200n8 '
        'crashkernel=256M foo="a b" storage_init -- single')
    assert plan.kernel_args == [
        "quiet", "console=ttyS0,115200n8", "crashkernel=256M", 'foo="a b"', "--", "single"]
    assert plan.ignored_args == ["BOOT_IMAGE=/vmlinuz0", "root=live:CDLABEL=node",
                                 "rd.live.image"]


def test_our_parameters_do_not_leak_to_the_installed_command_line():
    plan = bootparams.parse(f"adminpw={SHA512} storage_init ip=dhcp hostname=n1 firstboot")
    assert plan.kernel_args == []


def test_last_repeated_parameter_wins():
    assert net("hostname=a.example hostname=b.example").hostname == "b.example"


def test_repeated_bond_replaces_all_of_the_earlier_one():
    n = net("bond=bond0:eth0,eth1:mode=802.3ad,miimon=100 bond=bond1:eth2")
    assert (n.bond_name, n.bond_slaves, n.bond_options) == ("bond1", ["eth2"], None)


def test_repeated_vlan_replaces_the_parent_too():
    n = net("vlan=42:eth0 vlan=43")
    assert (n.vlan_id, n.vlan_parent) == (43, None)


def test_repeated_storage_vol_is_not_merged():
    got = sizes("storage_vol=:4096 storage_vol=::8192")
    assert (got["swap_mb"], got["root_mb"]) == (None, 8192)


def test_repeated_ip_replaces_a_static_configuration():
    n = net("ip=1.2.3.4::1.2.3.1:24 ip=dhcp")
    assert (n.ipv4_method, n.ipv4_address, n.ipv4_gateway, n.ipv4_netmask) == (
        "dhcp", None, None, None)


def test_flag_switched_off_later_is_off_and_does_not_conflict():
    plan = bootparams.parse("firstboot=1 firstboot=0")
    assert not plan.reinstall
    assert bootparams.parse("firstboot=0 stateless").stateless
    plan = bootparams.parse("disable_kdump=1 disable_kdump=0 kdump_nfs=h.example:/p")
    assert plan.settings.kdump.kdump_mode == "nfs"


# -- secrets never travel to the installed command line --------------------------------

@pytest.mark.parametrize(("cmdline", "secret"), [
    (f"ADMINPW={SHA512}", SHA512),
    ("AdminPW=secret123", "secret123"),
    ("admin_pw=secret123", "secret123"),
    ("password=secret123", "secret123"),
    ('foo="bar adminpw=hunter2"', "hunter2"),
    ("storage_init -- adminpw=hunter2", "hunter2"),
    (f"x={SHA512}", SHA512),
    (SHA512, SHA512),
])
def test_password_like_unknown_parameters_are_refused(cmdline, secret):
    with pytest.raises(BootParameterError, match="looks like a password") as caught:
        bootparams.parse(cmdline)
    assert secret not in str(caught.value)


# -- unattended readiness --------------------------------------------------------------

def test_unattended_needs_disks():
    assert bootparams.parse("ip=dhcp").missing_for_unattended() == [
        "storage_init (the disks to install to)"]
    assert bootparams.parse("storage_init").missing_for_unattended() == []
    assert bootparams.parse("storage_init").to_json()["admin_password"] == (
        "not set: the console asks for one at the first login")


# -- refusals: every one names the parameter and its form ------------------------------

BAD = [
    ("ip=300.1.1.1", "ip"),
    ("ip=10.0.0.1 netmask=255.0.255.0", "netmask"),
    ("vlan=5000", "vlan"),
    ("vlan=0", "vlan"),
    ("hostname=-x-", "hostname"),
    ("storage_vol=abc", "storage_vol"),
    ("adminpw=plaintext", "adminpw"),
    ("rootpw=hunter2", "rootpw"),
    ("ssh_pwauth=maybe", "ssh_pwauth"),
    ("dns=1.2.3", "dns"),
    ("dns=1.1.1.1,8.8.8.8,9.9.9.9,4.4.4.4", "dns"),
    ("storage_init=floppy", "storage_init"),
    ("storage_init=/dev/sda,/dev/sda", "storage_init"),
    ("storage_init=usb:", "storage_init"),
    ("storage_vol=1:2:3:4:5:6:7", "storage_vol"),
    ("storage_vol=100,Swap:200,Swap", "storage_vol"),
    ("storage_vol=100,Home", "storage_vol"),
    ("storage_vol=:::2", "storage_vol"),  # CONFIG below its 8 MB minimum
    ("storage_vol=:::::-2", "storage_vol"),
    ("storage_vol=:-1", "storage_vol"),  # only DATA may fill the rest
    ("BOOTIF=01-zz-54-00-12-34-56", "BOOTIF"),
    ("BOOTIF=this-name-is-far-too-long", "BOOTIF"),
    ("ip=10.0.0.1", "ip"),  # static without netmask
    ("ip=1.2.3.4:::255.255.255.0:h:e:x:y", "ip"),
    ("ip=1.2.3.4:::255.255.255.0::eth0:maybe", "ip"),
    ("netmask=255.255.255.0", "netmask"),  # no static ip
    ("ip=dhcp gateway=10.0.0.1", "gateway"),
    ("ip=10.0.0.5 netmask=255.255.255.0 gateway=10.0.1.1", "gateway"),  # other subnet
    ("netmask=33 ip=1.1.1.1", "netmask"),
    ("ipv6=maybe", "ipv6"),
    ("bond=bond0", "bond"),
    ("bond=bond0:eth0,eth0", "bond"),
    ("bond=bond0:eth0:mode=9", "bond"),
    ("syslog=logs.example.com:70000", "syslog"),
    ("collectd=:80", "collectd"),
    ("logrotate_interval=hourly", "logrotate_interval"),
    ("logrotate_max_size=big", "logrotate_max_size"),
    ("kdump_nfs=host-without-path", "kdump_nfs"),
    ("kdump_ssh=nouser", "kdump_ssh"),
    ("kdump_nfs=h:/p kdump_ssh=u@h", "kdump_ssh"),
    ("disable_kdump kdump_nfs=h:/p", "kdump_nfs"),
    ("iscsi_name=iqn.bad", "iscsi_name"),
    ("reboot_delay=-5", "reboot_delay"),
    ("install upgrade", "upgrade"),
    ("firstboot=maybe", "firstboot"),
    ("hostname", "hostname"),  # needs a value
    ("hostname=", "hostname"),
    ("storage_init stateless", "storage_init"),
    ("stateless storage_vol=::::", "storage_vol"),
    ("stateless install", "install"),
    ("ip=1.2.3.4::1.2.3.1:24::eth0:dhcp", "ip"),  # an address and DHCP
    ("ip=::10.0.0.1:255.255.255.0", "ip"),  # gateway without address
    ("ip=1.2.3.4:::255.255.255.0:h:eth0:none:8.8.8.8", "ip"),  # 8 fields
    ("ip=[2001:db8::5]::[2001:db8::1]:64", "ip"),
    ("management_server=https://engine.example.com", "management_server"),
    ("storage_vol=1024,Swap:200", "storage_vol"),
    ("foo=it's", "foo"),  # grub would hand the kernel a changed value
    ("path=C:\\dir", "path"),
]


@pytest.mark.parametrize(("cmdline", "param"), BAD)
def test_bad_values_are_refused_with_the_parameter_named(cmdline, param):
    with pytest.raises(BootParameterError) as caught:
        bootparams.parse(cmdline)
    message = str(caught.value)
    assert caught.value.name == param
    assert message.startswith(f"Boot parameter '{param}': ")
    assert "\n" not in message and message.endswith(".")


@pytest.mark.parametrize("secret", ["plaintext", "hunter2", "S3cret!pass", "$1$abc$def"])
def test_refused_passwords_are_never_echoed(secret):
    with pytest.raises(BootParameterError) as caught:
        bootparams.parse(f"adminpw={secret}")
    assert secret not in str(caught.value)


def test_stateless_with_storage_init_is_explained():
    with pytest.raises(BootParameterError, match=r"stateless.*touches no local storage"):
        bootparams.parse("stateless storage_init=/dev/sda")


# -- fuzzing: the parser raises only its documented error ------------------------------

PARAM_NAMES = sorted({*bootparams.USAGE, *bootparams.FLAGS, *bootparams.SIMPLE, "BOOTIF"})
VALUE_CHARS = st.sampled_from([*"0123456789abcdefx:,./-=@[]\" \t$_", "eth0", "bond0", "usb",
                               "255", "/dev/"])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PARAM_NAMES),
                          st.one_of(st.none(), st.lists(VALUE_CHARS, max_size=12).map("".join))),
                max_size=6))
def test_fuzz_known_parameters(pairs):
    cmdline = " ".join(name if value is None else f"{name}={value}" for name, value in pairs)
    try:
        plan = bootparams.parse(cmdline)
    except ValidationError as err:
        assert "\n" not in str(err)
    else:
        plan.to_json()


SECRET = "Zq9secretXw"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([
    f"adminpw={SECRET}", f"ADMINPW={SECRET}", f"root_pw={SECRET}", f'x="a passwd={SECRET}"',
    "ip=dhcp", "storage_init", "hostname=n1", "quiet", "--", "console=ttyS0", "a=b",
    f"password:{SECRET}"]), max_size=6))
def test_fuzz_secrets_never_reach_output(words):
    try:
        plan = bootparams.parse(" ".join(words))
    except ValidationError as err:
        assert SECRET not in str(err)
    else:
        assert SECRET not in str(plan.to_json())


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fuzz_arbitrary_text(text):
    try:
        bootparams.parse(text).to_json()
    except ValidationError as err:
        assert "\n" not in str(err)


def test_an_unclosed_quote_with_a_line_break_stays_one_line():
    """Found by the fuzz test: the parameter's name is shown escaped."""
    with pytest.raises(ValidationError) as err:
        bootparams.parse('"\n')
    assert "\n" not in str(err.value) and "never closed" in str(err.value)
