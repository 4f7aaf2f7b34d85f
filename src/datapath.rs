//! `--datapath`: opening the probe's and the reflector's path from the command line.

use std::net::{SocketAddr, SocketAddrV4};
use std::time::Duration;

use anyhow::{bail, Result};
use latlab_kernels::{
    parse_mac, Datapath, TcpPath, UdpOptions, UdpPath, UringOptions, UringTcpPath, UringUdpPath,
    XdpAttach, XdpConfig, XdpCopy, XdpPath,
};

use crate::cli::{DatapathArg, DatapathArgs, Proto};

impl DatapathArgs {
    /// The kernel socket path with no options: what `lab` and the tests use by default.
    pub fn kernel() -> DatapathArgs {
        DatapathArgs {
            datapath: DatapathArg::Kernel,
            sqpoll: false,
            sqpoll_cpu: None,
            iface: None,
            queue: 0,
            zero_copy: false,
            copy: false,
            xdp_mode: crate::cli::XdpModeArg::Auto,
            dst_mac: None,
        }
    }

    /// Refuses option combinations that cannot mean anything, before anything is opened.
    pub fn check(&self, proto: Proto) -> Result<()> {
        let xdp_only = self.iface.is_some()
            || self.zero_copy
            || self.copy
            || self.dst_mac.is_some()
            || self.queue != 0
            || self.xdp_mode != crate::cli::XdpModeArg::Auto;
        match self.datapath {
            DatapathArg::AfXdp if proto == Proto::Tcp => {
                bail!("--datapath af-xdp carries UDP only (latlab builds the frames itself; there is no TCP stack there): use --proto udp")
            }
            DatapathArg::AfXdp if self.iface.is_none() => {
                bail!("--datapath af-xdp needs --iface IFACE: the interface whose receive queue the AF_XDP socket binds (see `ip -br link`)")
            }
            DatapathArg::AfXdp if self.sqpoll => bail!("--sqpoll is an io_uring option"),
            DatapathArg::Kernel if self.sqpoll => {
                bail!("--sqpoll is an io_uring option: add --datapath io-uring")
            }
            DatapathArg::Kernel | DatapathArg::IoUring if xdp_only => {
                bail!("--iface, --queue, --copy, --zero-copy, --xdp-mode and --dst-mac are AF_XDP options: add --datapath af-xdp")
            }
            _ => Ok(()),
        }
    }

    /// The AF_XDP configuration these options ask for.
    pub fn xdp(&self) -> Result<XdpConfig> {
        let dst_mac = match &self.dst_mac {
            Some(m) => Some(parse_mac(m).map_err(|e| anyhow::anyhow!("--dst-mac: {e}"))?),
            None => None,
        };
        Ok(XdpConfig {
            iface: self.iface.clone().unwrap_or_default(),
            queue: self.queue,
            attach: match self.xdp_mode {
                crate::cli::XdpModeArg::Auto => XdpAttach::Auto,
                crate::cli::XdpModeArg::Skb => XdpAttach::Skb,
                crate::cli::XdpModeArg::Native => XdpAttach::Native,
            },
            copy: if self.zero_copy {
                XdpCopy::ZeroCopy
            } else if self.copy {
                XdpCopy::Copy
            } else {
                XdpCopy::Auto
            },
            dst_mac,
            ..XdpConfig::default()
        })
    }

    fn uring(&self, udp: UdpOptions) -> UringOptions {
        UringOptions {
            udp,
            sqpoll: self.sqpoll,
            sqpoll_cpu: self.sqpoll_cpu,
        }
    }
}

/// What a probe's path needs besides the datapath choice.
pub struct ProbeEnds {
    pub proto: Proto,
    pub target: SocketAddr,
    pub bind: Option<SocketAddr>,
    pub size: usize,
    pub connect_timeout: Duration,
    pub udp: UdpOptions,
}

/// Opens the probe's side of the chosen datapath.
pub fn open_probe(a: &DatapathArgs, e: &ProbeEnds) -> Result<Box<dyn Datapath + Send>> {
    a.check(e.proto)?;
    Ok(match (a.datapath, e.proto) {
        (DatapathArg::Kernel, Proto::Udp) => Box::new(UdpPath::connect(e.target, e.bind, e.udp)?),
        (DatapathArg::Kernel, Proto::Tcp) => Box::new(TcpPath::connect(
            e.target,
            e.size,
            e.connect_timeout,
            e.udp.busy_poll_us,
        )?),
        (DatapathArg::IoUring, Proto::Udp) => Box::new(UringUdpPath::connect(
            e.target,
            e.bind,
            e.size,
            a.uring(e.udp),
        )?),
        (DatapathArg::IoUring, Proto::Tcp) => Box::new(UringTcpPath::connect(
            e.target,
            e.size,
            e.connect_timeout,
            a.uring(e.udp),
        )?),
        (DatapathArg::AfXdp, _) => {
            let target = v4(e.target, "target")?;
            let src_port = e.bind.map_or(0, |b| b.port());
            if e.bind.is_some_and(|b| !b.ip().is_unspecified()) {
                bail!("--datapath af-xdp sends from --iface's own address; give --bind 0.0.0.0:PORT to choose only the port");
            }
            Box::new(XdpPath::connect(target, src_port, &a.xdp()?)?)
        }
    })
}

/// AF_XDP builds IPv4 frames only.
pub fn v4(addr: SocketAddr, what: &str) -> Result<SocketAddrV4> {
    match addr {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(_) => {
            bail!("--datapath af-xdp builds IPv4 frames only; the {what} {addr} is IPv6")
        }
    }
}

/// The io_uring options for a reflector.
pub fn reflector_uring(a: &DatapathArgs, udp: UdpOptions) -> UringOptions {
    a.uring(udp)
}
