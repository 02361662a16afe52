<?php
// Drives Roundcube's own IMAP engine (rcube_imap_generic, Debian's roundcube-core)
// against a server, as its webmail does, and prints what it got as JSON:
//   php roundcube_client.php HOST PORT USER PASSWORD FOLDER
// Used by tests/test_roundcube.py against the suite and against Cyrus 3.6.
// Roundcube's own bootstrap: its helper functions and class autoloader.
define('INSTALL_PATH', '/usr/share/roundcube/');
require_once '/usr/share/roundcube/program/lib/Roundcube/bootstrap.php';
[$_, $host, $port, $user, $pass, $folder] = $argv;
$imap = new rcube_imap_generic();
$ok = $imap->connect($host, $user, $pass, ['port' => (int)$port, 'auth_type' => 'PLAIN', 'timeout' => 30]);
if (!$ok) {
    fwrite(STDERR, "connect failed: " . $imap->error . "\n");
    exit(1);
}
$out = [];
$out['caps'] = array_values(array_filter(['SORT', 'THREAD=REFERENCES', 'METADATA', 'CONDSTORE', 'QRESYNC', 'ESORT'], fn($c) => $imap->getCapability($c)));
$out['folders'] = $imap->listMailboxes('', '*');
sort($out['folders']);
foreach (['DATE', 'SUBJECT', 'FROM', 'ARRIVAL', 'SIZE'] as $key) {
    $r = $imap->sort($folder, $key, 'ALL', true);
    $out['sort_' . $key] = $r->get();
}
$out['sort_subject_unseen'] = $imap->sort($folder, 'SUBJECT', 'UNSEEN', true)->get();
$t = $imap->thread($folder, 'REFERENCES', 'ALL', true);
$out['thread_references'] = $t->get_tree();
$out['thread_count'] = $t->count();
$t = $imap->thread($folder, 'ORDEREDSUBJECT', 'ALL', true);
$out['thread_orderedsubject'] = $t->get_tree();
$out['setmetadata'] = $imap->setMetadata('INBOX', ['/private/comment' => 'set by roundcube']);
$out['getmetadata'] = $imap->getMetadata('INBOX', ['/private/comment']);
// CONDSTORE: what changed since a modseq, as Roundcube's cache asks it.
$imap->enable('CONDSTORE');
$imap->select($folder);
$hms = $imap->data['HIGHESTMODSEQ'] ?? null;
$out['highestmodseq_known'] = $hms !== null;
$imap->flag($folder, '1:3', 'FLAGGED');
$changed = $imap->fetch($folder, '1:*', true, ['FLAGS'], $hms);
$out['changed_since'] = [];
foreach ((array)$changed as $m) {
    $out['changed_since'][] = [$m->uid, !empty($m->flags['FLAGGED']), $m->modseq !== null];
}
$imap->closeConnection();
echo json_encode($out, JSON_PRETTY_PRINT), "\n";
