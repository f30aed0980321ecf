"""Titles for stages that pass or are skipped (failures take theirs from the cause catalogue)."""

from __future__ import annotations

from pop3doctor.i18n import Msg

RESOLVE_OK = Msg(
    "サーバー名 {host} の IP アドレスが見つかりました（{addresses}）", "Server name {host} resolves ({addresses})"
)
RESOLVE_LITERAL = Msg(
    "サーバーは IP アドレス {host} で指定されています", "The server is given as the IP address {host}"
)
CONNECT_OK = Msg("{host} のポート {port} に接続できました（{address}）", "Connected to {host} port {port} ({address})")
CONNECT_IPV6_BROKEN = Msg(
    "IPv6 では接続できず、IPv4 で接続しました", "IPv6 did not connect; connected over IPv4 instead"
)
TLS_OK = Msg(
    "暗号化（{version}）は正常です。証明書は {not_after} まで有効です",
    "Encryption ({version}) works; the certificate is valid until {not_after}",
)
TLS_OFF = Msg("暗号化なし（設定が「なし」です）", "No encryption (the setting is 'none')")
TLS_NOT_REACHED = Msg("暗号化の確認はできませんでした", "Encryption could not be checked")
GREETING_OK = Msg("サーバーが POP3 で応答しました: {greeting}", "The server answered as POP3: {greeting}")
CAPA_OK = Msg("サーバーの機能: {capabilities}", "Server capabilities: {capabilities}")
CAPA_NONE = Msg(
    "サーバーは機能一覧（CAPA）に対応していません（古い POP3 サーバー）",
    "The server does not list its capabilities (CAPA): an older POP3 server",
)
LOGIN_OK = Msg("ログインできました（方式: {mechanism}）", "Logged in (method: {mechanism})")
LOGIN_NO_PASSWORD = Msg(
    "パスワードが指定されていないため、ログインは試していません",
    "No password was given, so login was not tried",
)
LOGIN_PLAINTEXT_WARNING = Msg(
    "暗号化なしでログインしました。パスワードが盗み見られる危険があります",
    "Logged in without encryption: the password could be read by others on the network",
)
MAILBOX_OK = Msg("受信箱に {count} 通（{size}）あります", "The mailbox holds {count} messages ({size})")
RETRIEVAL_OK = Msg(
    "最新のメール（{msgnum} 番）のヘッダーを受信できました（{bytes} バイト）",
    "Received the header of the newest message (number {msgnum}, {bytes} bytes)",
)
NOT_REACHED = Msg("前の段階で止まったため確認していません", "Not checked: an earlier stage failed")
SUMMARY_OK = Msg(
    "問題は見つかりませんでした。この設定でメールを受信できます",
    "No problem found: mail can be received with these settings",
)
SUGGEST = Msg(
    "この設定なら接続できることを確認しました: サーバー {host}、ポート {port}、暗号化 {security}",
    "Verified to connect: server {host}, port {port}, security {security}",
)
USERNAME_HINT = Msg(
    "ユーザー名をメールアドレス全体（{full}）にすると通る場合があります。メールソフトのユーザー名をそう変えて試してください",
    "The full e-mail address ({full}) may be the right user name: try it as the user name in your mail program",
)
PROVIDER_NOTE = Msg("{provider} の場合: {text}", "For {provider}: {text}")
