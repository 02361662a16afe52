//! Where a user's Sieve scripts live and which one is active (the layout of Cyrus's
//! sievedir, so that a migrated site's scripts are found where they are).
