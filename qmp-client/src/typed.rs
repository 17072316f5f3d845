//! The bridge to the generated API: [`qmp_types::Execute`] for the
//! transports, so that every generated command method
//! (`client.send_key(keys, Some(100))`) runs over them.

use qmp_types::{Command, Execute};

use crate::{Client, Error, GuestAgent};

impl Execute for Client {
    type Error = Error;

    async fn execute<C: Command>(&self, command: C) -> Result<C::Output, Error> {
        Client::execute(self, &command).await
    }
}

impl Execute for GuestAgent {
    type Error = Error;

    async fn execute<C: Command>(&self, command: C) -> Result<C::Output, Error> {
        GuestAgent::execute(self, &command).await
    }
}
