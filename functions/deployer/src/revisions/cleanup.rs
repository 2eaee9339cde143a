//! `cleanup`: deregister the family's ACTIVE revisions beyond the newest `keep`, except those in use.
