//! Async QMP client (under construction).
