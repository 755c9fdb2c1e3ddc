//! The sink side of the floor measurement: N client sockets drained as fast
//! as data arrives, on one current-thread runtime sharing one buffer.

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use nix::sys::socket::{setsockopt, sockopt};
use tokio::net::TcpSocket;

thread_local! {
    static BUF: RefCell<Vec<u8>> = RefCell::new(vec![0u8; 256 * 1024]);
}

/// Pins this process to `cpu`.
pub fn pin(cpu: usize) -> nix::Result<()> {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
}

async fn drain(server: SocketAddr, i: usize) -> io::Result<()> {
    let socket = TcpSocket::new_v4()?;
    // Choose the port at connect time from the 4-tuple (see the loadgen).
    setsockopt(&socket, sockopt::IpBindAddressNoPort, &true).map_err(io::Error::from)?;
    let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i % 4) as u8));
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(server).await?;
    loop {
        stream.readable().await?;
        let n = BUF.with(|b| stream.try_read(&mut b.borrow_mut()));
        match n {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// Connects `clients` sockets to `server` and drains them until the parent
/// kills this process (or every socket closes).
pub fn run(server: SocketAddr, clients: usize) -> io::Result<()> {
    let _ = crate::loadgen::limits::raise_nofile();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let tasks: Vec<_> = (0..clients)
            .map(|i| {
                tokio::task::spawn_local(async move {
                    // A socket that cannot connect leaves the sender short:
                    // exit so it notices at once rather than at its deadline.
                    if let Err(e) = drain(server, i).await {
                        eprintln!("sendfloor sink: socket {i}: {e}");
                        std::process::exit(1);
                    }
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    });
    Ok(())
}
