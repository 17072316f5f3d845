//! The bridge to the generated API: [`qmp_types::Execute`] for the
//! transports, so that every generated command method
//! (`client.send_key(keys, Some(100))`) runs over them.

use qmp_types::{Command, Execute, GuestAgent as GuestAgentProtocol, Qmp};

use crate::{Client, Error, GuestAgent};

impl Execute for Client {
    type Protocol = Qmp;
    type Error = Error;

    async fn execute<C: Command<Protocol = Qmp>>(&self, command: C) -> Result<C::Output, Error> {
        Client::execute(self, command).await
    }
}

impl Execute for GuestAgent {
    type Protocol = GuestAgentProtocol;
    type Error = Error;

    async fn execute<C: Command<Protocol = GuestAgentProtocol>>(
        &self,
        command: C,
    ) -> Result<C::Output, Error> {
        GuestAgent::execute(self, command).await
    }
}
