//! Integration tests of the Zoho connector against the Zoho emulator.
