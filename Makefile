# The two commands of the README. Each installs what it needs (Debian packages, the
# venv) by itself through tools/bootstrap, which does nothing when all is in place.
VENV := .venv
# The built-in default: a reference-product style PXE command line on a demo machine.
# adminpw is the SHA-512 crypt hash of "node-admin" (openssl passwd -6); the plan says
# a hash was given but never prints it.
DEMO_CMDLINE := BOOTIF=01-52-54-00-12-34-56 storage_init=/dev/sda storage_vol=:4096:::: \
	adminpw=$$6$$8Jk2mPq1$$p5K7irwef.Ljt.50EPr/shD8tFzVhsAe2CarwWb9cDXuiYH8W6xMHZgTM2NqMT5mEbmkdeWaX3gP7Z2FRsf/D1 \
	ip=192.168.122.50 netmask=255.255.255.0 gateway=192.168.122.1 \
	dns=192.168.122.1,9.9.9.9 ntp=0.pool.ntp.org hostname=node1.example.com \
	vlan=42 ssh_pwauth=0 syslog=logs.example.com:514 firstboot crashkernel=256M

.PHONY: demo test bootstrap lint
bootstrap:
	./tools/bootstrap

demo: bootstrap
	@$(VENV)/bin/ovirt-node-installer --explain --machine examples/machines/demo.json \
		--cmdline '$(DEMO_CMDLINE)'

lint: bootstrap
	$(VENV)/bin/ruff check .

test: lint
	$(VENV)/bin/python -m pytest
