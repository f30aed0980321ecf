"""The diagnosis's own texts, in both languages.

Titles for stages that pass or are skipped (failures take theirs from the cause
catalogue), and the notes of this run's evidence a failure's explanation gets
("other ports of the same server answered").  `fmt` and `join` build the
notes: plain ``str.format`` fields, a `Msg` value filled in its own language.
"""

from __future__ import annotations

from collections.abc import Sequence

from pop3doctor.i18n import Msg


def fmt(msg: Msg, **values: object) -> Msg:
    """``msg`` with ``values`` filled in; a `Msg` value is filled in its own language in each text."""
    ja = {k: v.ja if isinstance(v, Msg) else v for k, v in values.items()}
    en = {k: v.en if isinstance(v, Msg) else v for k, v in values.items()}
    return Msg(msg.ja.format(**ja), msg.en.format(**en))


def join(msgs: Sequence[Msg]) -> Msg:
    """Sentences one after the other, per language."""
    return Msg(" ".join(x.ja for x in msgs), " ".join(x.en for x in msgs))


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


# -- this computer's network (the network stage) -----------------------------------------

NETWORK_OK = Msg(
    "インターネットへの経路: {routes}。DNS サーバー: {resolvers}",
    "Route to the internet: {routes}. DNS server: {resolvers}",
)
NO_DEFAULT_ROUTE = Msg("なし（ローカルネットワークのみ）", "none (local network only)")
NO_RESOLVER = Msg("設定されていません", "none configured")
RESOLVER_SILENT = Msg(
    "DNS サーバー {resolvers} はまったく応答しません。",
    "The DNS server {resolvers} does not answer at all.",
)
RESOLVER_NO_ROUTE = Msg(
    "DNS サーバー {resolvers} への経路がありません。",
    "There is no route to the DNS server {resolvers}.",
)
RESOLVER_NONE = Msg("DNS サーバーが設定されていません。", "No DNS server is configured on this computer.")
NAME_UNAVAILABLE = Msg(
    "DNS サーバーは応答していますが、{host} については答えが得られません（{reason}）。"
    "メール事業者側の DNS の障害の可能性があります。",
    "The DNS server answers, but gives no answer for {host} ({reason}): "
    "the mail provider's own DNS may be failing.",
)

# -- a name that does not exist (the resolve stage) --------------------------------------

DID_YOU_MEAN = Msg("もしかして: {names}", "Did you mean: {names}?")
VERIFIED_NAME = Msg(
    "{name} は存在し、ポート {port} で POP3 サーバーが応答しました。サーバー名を {name} に直してください。",
    "{name} exists and a POP3 server answered on port {port}: change the server name to {name}.",
)

# -- whose fault a dead port is (the connect stage's verdict) ----------------------------
# Fields: {port} the POP3 port, {answered} / {accepted} the other ports that
# answered / accepted, {reference} the reference endpoint.

NOTE_BLOCKED = Msg(
    "同じサーバーの他のポート（{answered}）は応答しました。サーバーは動いており、"
    "このネットワークかこのコンピューター（ファイアウォールやセキュリティソフト）が"
    "ポート {port} への接続を止めています。",
    "Other ports of the same server answered ({answered}): the server is up, and this network or this "
    "computer (a firewall or security software) stops connections to port {port}.",
)
NOTE_CLOSED = Msg(
    "サーバー自体は応答しましたが、ポート {port} では受け付けていません。",
    "The server itself answered, but accepts nothing on port {port}.",
)
NOTE_CLOSED_OTHERS = Msg(
    "接続を受け付けたポート: {accepted}。",
    "Ports that did accept a connection: {accepted}.",
)
NOTE_SERVER_DOWN = Msg(
    "サーバーのどのポートも接続を受け付けませんが、比較用の接続先 {reference} には接続できました。",
    "No port of the server accepted a connection, while the reference {reference} did.",
)
NOTE_NO_NETWORK = Msg(
    "サーバーも比較用の接続先 {reference} も応答しません。",
    "Neither the server nor the reference {reference} answered.",
)
NOTE_NO_ROUTE = Msg(
    "このコンピューターにはインターネットへの経路（デフォルトルート）がありません。",
    "This computer has no route to the internet (no default route).",
)
NOTE_UNDETERMINED = Msg(
    "サーバーのどのポートも応答しませんでした。比較用の接続先がないため、サーバーの障害か"
    "こちらのネットワークがすべて止めているのかは区別できません（--reference ホスト:ポート で指定できます）。",
    "No port of the server answered. Without a reference endpoint a server outage cannot be told "
    "from a network that blocks everything (give one with --reference HOST:PORT).",
)
