//! The bridge to the generated API: [`qmp_types::Execute`] for the
//! transports, so that every generated command method
//! (`client.send_key(keys, Some(100))`) runs over them.

use qmp_types::{Command, Execute};

use crate::{Client, Error, GuestAgent};

impl Execute for Client {
    type Error = Error;

    fn execute<C: Command>(
        &self,
        command: C,
    ) -> impl Future<Output = Result<C::Output, Error>> + Send {
        async move { Client::execute(self, &command).await }
    }
}

impl Execute for GuestAgent {
    type Error = Error;

    fn execute<C: Command>(
        &self,
        command: C,
    ) -> impl Future<Output = Result<C::Output, Error>> + Send {
        async move { GuestAgent::execute(self, &command).await }
    }
}
