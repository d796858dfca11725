"""Every string the dashboard, the entry app and demo.py show, in Brazilian Portuguese and English.

``t("key", lang, **values)`` looks a string up (falling back to pt-BR, then to the key itself);
``money`` writes an amount in its currency (``R$ 1.234,56``, ``US$ 1.234,56`` in pt-BR;
``$1,234.56`` in English); ``field_error`` turns one item of the API's 422
``detail`` into a sentence in the user's language, keeping the API's own message when the error
type is not one we know.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from models.explain import currency_prefix, format_money, plural

LANGS = ("pt-BR", "en")
LANG_NAMES = {"pt-BR": "Português (Brasil)", "en": "English"}

STRINGS: dict[str, dict[str, str]] = {
    # shared
    "app_title": {"pt-BR": "Vigilante de Gastos", "en": "Expense Watchdog"},
    "language": {"pt-BR": "Idioma", "en": "Language"},
    "api_down": {
        "pt-BR": "API inacessível em {url} — tentando de novo a cada {seconds} s.",
        "en": "API unreachable at {url}, retrying every {seconds} s.",
    },
    "api_error": {"pt-BR": "A API respondeu com erro: {message}", "en": "The API said: {message}"},
    "login_title": {"pt-BR": "Entrar", "en": "Log in"},
    "username": {"pt-BR": "Usuário", "en": "Username"},
    "password": {"pt-BR": "Senha", "en": "Password"},
    "login": {"pt-BR": "Entrar", "en": "Log in"},
    "logout": {"pt-BR": "Sair", "en": "Log out"},
    "login_failed": {
        "pt-BR": "Usuário ou senha incorretos.",
        "en": "Incorrect username or password.",
    },
    "login_no_username": {"pt-BR": "Informe o usuário.", "en": "Please enter your username."},
    "login_no_password": {"pt-BR": "Informe a senha.", "en": "Please enter your password."},
    "login_no_username_password": {
        "pt-BR": "Informe o usuário e a senha.",
        "en": "Please enter your username and password.",
    },
    "login_throttled": {
        "pt-BR": "Muitas tentativas de login; tente de novo em {seconds} s.",
        "en": "Too many login attempts; try again in {seconds} s.",
    },
    "logged_in_as": {"pt-BR": "Conectado como **{user}**", "en": "Logged in as **{user}**"},
    "auth_off": {
        "pt-BR": "Modo local: sem login (VIGILANTE_AUTH=off).",
        "en": "Local mode: no login (VIGILANTE_AUTH=off).",
    },
    # demo.py's own messages
    "demo_unreachable": {"pt-BR": "API inacessível em {url}", "en": "API unreachable at {url}"},
    "demo_status": {"pt-BR": "a API respondeu {answer}", "en": "the API answered {answer}"},
    "demo_stopped": {"pt-BR": "Parando: {problem}", "en": "Stopping: {problem}"},
    "demo_retrying": {"pt-BR": "… {problem}; tentando de novo", "en": "… {problem}; retrying"},
    "demo_retry_in": {
        "pt-BR": "… {problem}; nova tentativa ({attempt}) em {delay} s",
        "en": "… {problem}; retry {attempt} in {delay} s",
    },
    "demo_needs_login": {
        "pt-BR": "A API pede login: informe --username e --password (uma conta nova é criada "
        "se o nome estiver livre) ou inicie tudo com `make run`.",
        "en": "The API needs a login: pass --username and --password (a new account is "
        "created if the name is free), or start everything with `make run`.",
    },
    "demo_wrong_password": {
        "pt-BR": "Senha incorreta para {user!r}.",
        "en": "Wrong password for {user!r}.",
    },
    "demo_no_login": {
        "pt-BR": "Não foi possível entrar como {user!r} (senha incorreta?) nem criar essa "
        "conta: {problem}",
        "en": "Could not log in as {user!r} (wrong password?) nor create that account: {problem}",
    },
    "demo_created": {
        "pt-BR": "Conta {user!r} criada: o nome estava livre.",
        "en": "Account {user!r} created: the name was free.",
    },
    "demo_hint": {
        "pt-BR": "Conta de demonstração criada pelo `make run` já preenchida.",
        "en": "The demo account created by `make run` is filled in.",
    },
    "session_expired": {
        "pt-BR": "Sua sessão expirou; entre de novo.",
        "en": "Your session expired; please log in again.",
    },
    "severity": {"pt-BR": "Gravidade", "en": "Severity"},
    "sev_none": {"pt-BR": "normal", "en": "normal"},
    "sev_low": {"pt-BR": "baixa", "en": "low"},
    "sev_medium": {"pt-BR": "média", "en": "medium"},
    "sev_high": {"pt-BR": "alta", "en": "high"},
    "score": {"pt-BR": "Pontuação", "en": "Score"},
    "amount": {"pt-BR": "Valor", "en": "Amount"},
    "amount_in": {"pt-BR": "Valor ({symbol})", "en": "Amount ({symbol})"},
    "category": {"pt-BR": "Categoria", "en": "Category"},
    "merchant": {"pt-BR": "Estabelecimento", "en": "Merchant"},
    "account": {"pt-BR": "Conta / cartão", "en": "Account / card"},
    "description": {"pt-BR": "Descrição", "en": "Description"},
    "when": {"pt-BR": "Quando", "en": "When"},
    "date": {"pt-BR": "Data", "en": "Date"},
    "time": {"pt-BR": "Hora", "en": "Time"},
    "reasons": {"pt-BR": "Motivos", "en": "Reasons"},
    "anomaly": {"pt-BR": "Anomalia", "en": "Anomaly"},
    "feedback": {"pt-BR": "Avaliação", "en": "Feedback"},
    "fb_legit": {"pt-BR": "tudo certo", "en": "fine"},
    "fb_fraud": {"pt-BR": "confirmada", "en": "confirmed"},
    "yes": {"pt-BR": "sim", "en": "yes"},
    "no": {"pt-BR": "não", "en": "no"},
    "no_expenses": {"pt-BR": "Nenhuma despesa ainda.", "en": "No expenses yet."},
    # dashboard
    "dash_caption": {
        "pt-BR": "Despesas pontuadas em tempo real; atualiza a cada {seconds} s.",
        "en": "Expenses scored as they arrive; refreshes every {seconds} s.",
    },
    "live": {"pt-BR": "Ao vivo", "en": "Live"},
    "paused": {"pt-BR": "Pausado", "en": "Paused"},
    "tab_overview": {"pt-BR": "Visão geral", "en": "Overview"},
    "tab_history": {"pt-BR": "Histórico", "en": "History"},
    "kpi_today": {"pt-BR": "Gasto hoje", "en": "Spent today"},
    "kpi_month": {"pt-BR": "Gasto no mês", "en": "Spent this month"},
    "kpi_count": {"pt-BR": "Despesas no mês", "en": "Expenses this month"},
    "kpi_anomalies": {"pt-BR": "Anomalias no mês", "en": "Anomalies this month"},
    "kpi_rate": {"pt-BR": "Taxa de anomalias", "en": "Anomaly rate"},
    "kpi_last": {"pt-BR": "Última despesa", "en": "Last expense"},
    "kpi_new": {"pt-BR": "+{count} agora", "en": "+{count} just now"},
    "kpi_others_help": {
        "pt-BR": "Total em {currency}; o que foi gasto em outras moedas aparece à parte, sem "
        "conversão.",
        "en": "Total in {currency}; spending in other currencies is shown apart, not converted.",
    },
    "chart_days": {"pt-BR": "Gastos por dia (30 dias)", "en": "Spending per day (30 days)"},
    "chart_days_help": {
        "pt-BR": "Pontos vermelhos: dias com anomalias (tamanho = quantidade).",
        "en": "Red dots: days with anomalies (size = how many).",
    },
    "chart_categories": {"pt-BR": "Gastos por categoria", "en": "Spending by category"},
    "chart_kinds": {"pt-BR": "Anomalias por motivo", "en": "Anomalies by reason"},
    "chart_kinds_help": {
        "pt-BR": "Motivo principal das últimas {count} anomalias.",
        "en": "Main reason of the latest {count} anomalies.",
    },
    "chart_stream": {"pt-BR": "Últimas despesas", "en": "Latest expenses"},
    "chart_stream_help": {
        "pt-BR": "As {count} últimas registradas, na ordem em que chegaram (a mais nova à "
        "direita); valor em escala log. Laranja e vermelho: anomalias.",
        "en": "The latest {count} recorded, in the order they arrived (newest on the right); "
        "amount on a log scale. Orange and red: anomalies.",
    },
    "day": {"pt-BR": "Dia", "en": "Day"},
    "total": {"pt-BR": "Total", "en": "Total"},
    "count": {"pt-BR": "Quantidade", "en": "Count"},
    "anomalies": {"pt-BR": "Anomalias", "en": "Anomalies"},
    "latest_anomalies": {"pt-BR": "Últimas anomalias", "en": "Latest anomalies"},
    "no_anomalies": {
        "pt-BR": "Nenhuma anomalia por enquanto. 🎉",
        "en": "No anomalies so far. 🎉",
    },
    "btn_fine": {"pt-BR": "Está tudo certo", "en": "This is fine"},
    "btn_confirm": {"pt-BR": "Confirmar fraude", "en": "Confirm"},
    "fb_saved_legit": {"pt-BR": "Marcada como normal.", "en": "Marked as fine."},
    "fb_saved_fraud": {"pt-BR": "Confirmada como fraude.", "en": "Confirmed as fraud."},
    "history_title": {"pt-BR": "Histórico", "en": "History"},
    "period": {"pt-BR": "Período", "en": "Period"},
    "all_categories": {"pt-BR": "Todas", "en": "All"},
    "all_accounts": {"pt-BR": "Todas", "en": "All"},
    "anomalies_only": {"pt-BR": "Só anomalias", "en": "Anomalies only"},
    "load_more": {"pt-BR": "Carregar mais", "en": "Load more"},
    "export_csv": {"pt-BR": "Exportar CSV", "en": "Export CSV"},
    "showing": {
        "pt-BR": "{count} {count|despesa exibida|despesas exibidas}.",
        "en": "{count} {count|expense|expenses} shown.",
    },
    "refresh_live": {"pt-BR": "Atualizar ao vivo", "en": "Live refresh"},
    "filters": {"pt-BR": "Filtros do histórico", "en": "History filters"},
    # entry app
    "entry_title": {"pt-BR": "Registrar despesa", "en": "Record an expense"},
    "entry_caption": {
        "pt-BR": "Cada despesa recebe na hora uma pontuação e os motivos.",
        "en": "Every expense gets its score and reasons at once.",
    },
    "tab_entry": {"pt-BR": "Nova despesa", "en": "New expense"},
    "tab_simulate": {"pt-BR": "Simular", "en": "Simulate"},
    "tab_import": {"pt-BR": "Importar extrato", "en": "Import statement"},
    "amount_help": {"pt-BR": "Ex.: 42,50", "en": "E.g. 42.50"},
    "category_help": {
        "pt-BR": "Escolha uma ou digite uma nova.",
        "en": "Pick one or type a new one.",
    },
    "date_help": {"pt-BR": "Vazio = agora", "en": "Empty = now"},
    "submit": {"pt-BR": "Enviar", "en": "Submit"},
    "fix_fields": {
        "pt-BR": "Corrija os campos marcados.",
        "en": "Please fix the fields marked in red.",
    },
    "submit_unreachable": {
        "pt-BR": "Sem resposta da API em {url}: a despesa não foi confirmada. Envie de novo "
        "quando a API voltar; ela não será registrada duas vezes.",
        "en": "No answer from the API at {url}: the expense was not confirmed. Send it again "
        "once the API is back; it will not be stored twice.",
    },
    "verdict_anomaly": {
        "pt-BR": "Parece estranha: gravidade {severity}",
        "en": "Looks wrong: {severity} severity",
    },
    "verdict_ok": {"pt-BR": "Parece normal", "en": "Looks normal"},
    "verdict_stored": {
        "pt-BR": "Despesa nº {id} registrada: {amount} em {category}.",
        "en": "Expense #{id} stored: {amount} in {category}.",
    },
    "no_reasons": {"pt-BR": "Nada fora do comum.", "en": "Nothing out of the ordinary."},
    "recent_entries": {"pt-BR": "Despesas recentes", "en": "Recent expenses"},
    "sim_intro": {
        "pt-BR": "Envia despesas realistas de vários gastadores, com anomalias opcionais.",
        "en": "Sends realistic expenses from several spenders, optionally with anomalies.",
    },
    "sim_count": {"pt-BR": "Quantas despesas", "en": "How many expenses"},
    "sim_rate": {"pt-BR": "Anomalias injetadas (%)", "en": "Injected anomalies (%)"},
    "sim_seed": {"pt-BR": "Semente", "en": "Seed"},
    "sim_next": {
        "pt-BR": "A próxima simulação usa a semente {seed}.",
        "en": "The next run uses seed {seed}.",
    },
    "sim_seed_help": {
        "pt-BR": "A mesma semente gera as mesmas despesas; cada simulação passa para a seguinte, "
        "para não reenviar as anteriores (que seriam cobranças duplicadas).",
        "en": "The same seed makes the same expenses; each run moves on to the next one, so "
        "that it does not send the earlier ones again (they would be duplicate charges).",
    },
    "sim_days": {"pt-BR": "Ao longo de quantos dias", "en": "Spread over how many days"},
    "sim_go": {"pt-BR": "Simular", "en": "Simulate"},
    "sim_progress": {"pt-BR": "Enviadas {done} de {total}", "en": "Sent {done} of {total}"},
    "sim_done": {
        "pt-BR": "{count} despesas enviadas; {flagged} sinalizadas ({caught} de {injected} "
        "anomalias injetadas pegas).",
        "en": "{count} expenses sent; {flagged} flagged ({caught} of {injected} injected "
        "anomalies caught).",
    },
    "imp_intro": {
        "pt-BR": "Fatura do cartão Nubank (CSV), extrato da conta Nubank (CSV), OFX de qualquer "
        "banco, ou qualquer CSV com mapeamento de colunas. Importar o mesmo arquivo de novo "
        "não duplica nada.",
        "en": "Nubank card bill (CSV), Nubank account statement (CSV), OFX from any bank, or "
        "any CSV through a column mapping. Importing the same file again adds nothing.",
    },
    "imp_file": {"pt-BR": "Arquivo do extrato", "en": "Statement file"},
    "imp_format": {"pt-BR": "Formato", "en": "Format"},
    "imp_auto": {"pt-BR": "Detectar automaticamente", "en": "Detect automatically"},
    "imp_account": {
        "pt-BR": "Conta / cartão destas despesas",
        "en": "Account / card these expenses are on",
    },
    "imp_detected": {"pt-BR": "Formato: **{name}**", "en": "Format: **{name}**"},
    "imp_summary": {
        "pt-BR": "{expenses} {expenses|despesa|despesas} a importar, "
        "{skipped} {skipped|ignorada|ignoradas}, {errors} com erro.",
        "en": "{expenses} {expenses|expense|expenses} to import, {skipped} skipped, "
        "{errors} with errors.",
    },
    "imp_go": {
        "pt-BR": "Importar {count} {count|despesa|despesas}",
        "en": "Import {count} {count|expense|expenses}",
    },
    "imp_progress": {"pt-BR": "Importadas {done} de {total}", "en": "Imported {done} of {total}"},
    "imp_done": {
        "pt-BR": "{new} {new|nova|novas}, {known} já {known|importada|importadas} antes, "
        "{flagged} {flagged|sinalizada|sinalizadas}.",
        "en": "{new} new, {known} already imported before, {flagged} flagged.",
    },
    "imp_mapping": {"pt-BR": "Mapeamento de colunas", "en": "Column mapping"},
    "imp_col_date": {"pt-BR": "Coluna da data", "en": "Date column"},
    "imp_col_amount": {"pt-BR": "Coluna do valor", "en": "Amount column"},
    "imp_col_desc": {"pt-BR": "Coluna da descrição", "en": "Description column"},
    "imp_col_category": {"pt-BR": "Coluna da categoria", "en": "Category column"},
    "imp_col_id": {"pt-BR": "Coluna do identificador", "en": "Transaction id column"},
    "imp_none": {"pt-BR": "(nenhuma)", "en": "(none)"},
    "imp_date_format": {"pt-BR": "Formato da data", "en": "Date format"},
    "imp_sign": {"pt-BR": "Despesas aparecem como", "en": "Expenses appear as"},
    "imp_sign_negative": {"pt-BR": "valores negativos", "en": "negative amounts"},
    "imp_sign_positive": {"pt-BR": "valores positivos", "en": "positive amounts"},
    "imp_status": {"pt-BR": "Situação", "en": "Status"},
    "imp_line": {"pt-BR": "Linha", "en": "Line"},
    "imp_st_expense": {"pt-BR": "importar", "en": "import"},
    "imp_st_skipped": {"pt-BR": "ignorar", "en": "skip"},
    "imp_st_error": {"pt-BR": "erro", "en": "error"},
    "imp_note": {"pt-BR": "Observação", "en": "Note"},
    "fmt_nubank_card": {"pt-BR": "Fatura do cartão Nubank", "en": "Nubank card bill"},
    "fmt_nubank_account": {"pt-BR": "Extrato da conta Nubank", "en": "Nubank account"},
    "fmt_ofx": {"pt-BR": "OFX", "en": "OFX"},
    "fmt_csv": {"pt-BR": "CSV genérico", "en": "Generic CSV"},
    "skip_income": {"pt-BR": "entrada de dinheiro", "en": "money coming in"},
    "skip_card_payment": {"pt-BR": "pagamento da fatura", "en": "card bill payment"},
    "skip_refund": {"pt-BR": "estorno", "en": "refund"},
    "skip_investment": {"pt-BR": "aplicação/resgate", "en": "investment move"},
    "skip_zero": {"pt-BR": "valor zero", "en": "zero amount"},
    "note_installment": {"pt-BR": "parcela {part}", "en": "installment {part}"},
    "err_date": {"pt-BR": "data inválida: {value}", "en": "invalid date: {value}"},
    "err_amount": {"pt-BR": "valor inválido: {value}", "en": "invalid amount: {value}"},
    "err_missing": {"pt-BR": "coluna vazia: {value}", "en": "empty column: {value}"},
    "err_file": {
        "pt-BR": "Não consegui ler o arquivo: {message}",
        "en": "Could not read the file: {message}",
    },
    # 422 field errors, by pydantic error type
    "fe_missing": {"pt-BR": "campo obrigatório", "en": "required"},
    "fe_greater_than": {
        "pt-BR": "deve ser maior que {limit}",
        "en": "must be greater than {limit}",
    },
    "fe_less_than_equal": {"pt-BR": "deve ser no máximo {limit}", "en": "must be at most {limit}"},
    "fe_decimal_max_places": {
        "pt-BR": "no máximo 2 casas decimais",
        "en": "at most 2 decimal places",
    },
    "fe_decimal_parsing": {"pt-BR": "não é um número", "en": "is not a number"},
    # the entry form's own check of a typed amount (importers.parse_typed_amount)
    "fe_amount_characters": {
        "pt-BR": "não é um número: use só algarismos, como 1.234,56",
        "en": "not a number: use digits only, as in 1,234.56",
    },
    "fe_amount_grouping": {
        "pt-BR": "separadores fora do lugar: vírgula antes dos centavos e ponto a cada 3 "
        "algarismos, como 1.234,56",
        "en": "misplaced separators: a point before the cents and a comma every 3 digits, as "
        "in 1,234.56",
    },
    "fe_amount_ambiguous": {
        "pt-BR": "valor ambíguo: escreva {thousands} (ou {plain}) se são milhares; centavos "
        "têm no máximo 2 casas",
        "en": "ambiguous: write {thousands} (or {plain}) if you mean thousands; cents take at "
        "most 2 decimal places",
    },
    "fe_decimal_type": {"pt-BR": "não é um número", "en": "is not a number"},
    "fe_finite_number": {"pt-BR": "deve ser um número finito", "en": "must be a finite number"},
    "fe_string_too_short": {
        "pt-BR": "curto demais: pelo menos {limit} caracteres",
        "en": "too short: at least {limit} characters",
    },
    "fe_empty": {"pt-BR": "não pode ficar vazio", "en": "must not be empty"},
    "fe_string_too_long": {
        "pt-BR": "texto longo demais: no máximo {limit} caracteres",
        "en": "too long: at most {limit} characters",
    },
    "fe_datetime_parsing": {"pt-BR": "data/hora inválida", "en": "invalid date/time"},
    "fe_datetime_from_date_parsing": {"pt-BR": "data/hora inválida", "en": "invalid date/time"},
    "fe_timezone_aware": {
        "pt-BR": "informe o fuso horário",
        "en": "must include a time zone offset",
    },
    "fe_control_characters": {
        "pt-BR": "não pode conter caracteres de controle",
        "en": "must not contain control characters",
    },
    "fe_currency": {
        "pt-BR": "use um código de moeda ISO 4217, como BRL",
        "en": "use an ISO 4217 currency code such as BRL",
    },
    "fe_extra_forbidden": {"pt-BR": "campo desconhecido", "en": "unknown field"},
    "fe_future": {
        "pt-BR": "está mais de {limit} no futuro",
        "en": "is more than {limit} in the future",
    },
}

# -- alerts, rules and budgets: vigilante/ui_alerts.py (docs/alerts.md) -----------------------
STRINGS |= {
    "tab_alerts": {"pt-BR": "Alertas", "en": "Alerts"},
    "tab_alerts_open": {"pt-BR": "Alertas ({count})", "en": "Alerts ({count})"},
    "al_sidebar_open": {
        "pt-BR": ":red-badge[{count}] {count|alerta|alertas} em aberto",
        "en": ":red-badge[{count}] open {count|alert|alerts}",
    },
    "al_sidebar_none": {"pt-BR": "Nenhum alerta em aberto", "en": "No open alerts"},
    "al_open": {"pt-BR": "Alertas em aberto", "en": "Open alerts"},
    "al_none_open": {"pt-BR": "Nenhum alerta em aberto.", "en": "No open alerts."},
    "al_acked": {"pt-BR": "Alertas já vistos", "en": "Acknowledged alerts"},
    "al_ack": {"pt-BR": "Ciente", "en": "Acknowledge"},
    "al_source_model": {"pt-BR": "modelo", "en": "model"},
    "al_source_rule": {"pt-BR": "regra", "en": "rule"},
    "al_source_budget": {"pt-BR": "orçamento", "en": "budget"},
    "al_source": {"pt-BR": "Origem", "en": "Source"},
    "al_title": {"pt-BR": "Alerta", "en": "Alert"},
    "al_count": {
        "pt-BR": "{count} {count|despesa|despesas}, {amount}",
        "en": "{count} {count|expense|expenses}, {amount}",
    },
    "bud_title": {"pt-BR": "Orçamentos de {month}", "en": "Budgets for {month}"},
    "bud_none": {"pt-BR": "Nenhum orçamento ainda.", "en": "No budgets yet."},
    "bud_all": {"pt-BR": "Todas as categorias", "en": "All categories"},
    "bud_line": {
        "pt-BR": "{spent} de {limit} ({percent}) · restam {left}",
        "en": "{spent} of {limit} ({percent}) · {left} left",
    },
    "bud_over": {
        "pt-BR": "{spent} de {limit} ({percent}) · estourado em {over}",
        "en": "{spent} of {limit} ({percent}) · over by {over}",
    },
    "bud_heading": {"pt-BR": "Orçamentos mensais", "en": "Monthly budgets"},
    "bud_add": {"pt-BR": "Novo orçamento mensal", "en": "New monthly budget"},
    "bud_category": {"pt-BR": "Categoria (vazio = todas)", "en": "Category (empty = all)"},
    "bud_limit": {"pt-BR": "Limite por mês ({symbol})", "en": "Limit per month ({symbol})"},
    "rules_title": {"pt-BR": "Regras", "en": "Rules"},
    "rules_none": {"pt-BR": "Nenhuma regra ainda.", "en": "No rules yet."},
    "rule_add": {"pt-BR": "Nova regra", "en": "New rule"},
    "rule_kind": {"pt-BR": "Tipo de regra", "en": "Kind of rule"},
    "rule_name": {"pt-BR": "Nome", "en": "Name"},
    "rule_on": {"pt-BR": "ligada", "en": "on"},
    "rule_off": {"pt-BR": "desligada", "en": "off"},
    "turn_on": {"pt-BR": "Ligar", "en": "Turn on"},
    "turn_off": {"pt-BR": "Desligar", "en": "Turn off"},
    "delete": {"pt-BR": "Excluir", "en": "Delete"},
    "add": {"pt-BR": "Adicionar", "en": "Add"},
    "kind_amount_over": {"pt-BR": "Valor acima de", "en": "Amount over"},
    "kind_blocked_merchant": {"pt-BR": "Estabelecimento bloqueado", "en": "Blocked merchant"},
    "kind_blocked_category": {"pt-BR": "Categoria bloqueada", "en": "Blocked category"},
    "kind_weekend": {"pt-BR": "Gasto no fim de semana", "en": "Weekend spending"},
    "kind_night": {"pt-BR": "Gasto de madrugada", "en": "Night spending"},
    "kind_frequency": {
        "pt-BR": "Muitas despesas em pouco tempo",
        "en": "Many expenses in a short time",
    },
    "f_amount": {"pt-BR": "Acima de ({symbol})", "en": "Over ({symbol})"},
    "f_min_amount": {
        "pt-BR": "Só acima de ({symbol}, 0 = qualquer)",
        "en": "Only over ({symbol}, 0 = any)",
    },
    "f_category": {"pt-BR": "Só na categoria (opcional)", "en": "Only in category (optional)"},
    "f_merchant": {
        "pt-BR": "Só em estabelecimento que contém (opcional)",
        "en": "Only at merchants containing (optional)",
    },
    "f_account": {
        "pt-BR": "Só na conta / cartão (opcional)",
        "en": "Only account / card (optional)",
    },
    "f_merchants": {
        "pt-BR": "Estabelecimentos (um por linha; vale se o nome contém)",
        "en": "Merchants (one a line; matches names containing it)",
    },
    "f_categories": {"pt-BR": "Categorias (uma por linha)", "en": "Categories (one a line)"},
    "f_start_hour": {"pt-BR": "Das (hora local)", "en": "From (local hour)"},
    "f_end_hour": {"pt-BR": "Até (hora local)", "en": "Until (local hour)"},
    "f_count": {"pt-BR": "Mais de (despesas)", "en": "More than (expenses)"},
    "f_minutes": {"pt-BR": "Em (minutos)", "en": "Within (minutes)"},
    "desc_amount": {"pt-BR": "acima de {amount}", "en": "over {amount}"},
    "desc_hours": {"pt-BR": "das {start} às {end}", "en": "{start} to {end}"},
    "desc_frequency": {
        "pt-BR": "mais de {count} em {minutes} min",
        "en": "more than {count} in {minutes} min",
    },
    "saved": {"pt-BR": "Salvo.", "en": "Saved."},
}

# Pydantic error type -> the context key holding the limit it names.
# Errors whose sentence names a limit the API gave ("Input should be less than or equal to
# 1000000000", "is more than 1440 minutes in the future"): the number is kept, in the UI's way.
_LIMITED = {"greater_than", "less_than_equal", "string_too_long", "string_too_short", "future"}
_FIRST_NUMBER = re.compile(r"\d+(?:\.\d+)?")

_VALUE_ERRORS = {
    "in the future": "future",
    "is required for": "missing",  # a rule's field its kind needs
    "must have at least": "string_too_short",
    "must have at most": "string_too_long",
    "control characters": "control_characters",
    "ISO 4217": "currency",
}

REASON_LABELS = {
    "duplicate": {"pt-BR": "cobrança duplicada", "en": "duplicate charge"},
    "near_duplicate": {"pt-BR": "quase duplicada", "en": "near duplicate"},
    "burst": {"pt-BR": "rajada de cobranças", "en": "burst of charges"},
    "split": {"pt-BR": "compra fracionada", "en": "split purchase"},
    "amount_spike": {"pt-BR": "valor muito alto", "en": "amount spike"},
    "typical_amount": {"pt-BR": "valor atípico p/ categoria", "en": "far above typical"},
    "merchant_amount": {"pt-BR": "valor fora do comum no local", "en": "unusual at merchant"},
    "new_category": {"pt-BR": "categoria nova", "en": "new category"},
    "new_category_plain": {"pt-BR": "categoria nova", "en": "new category"},
    "rare_category": {"pt-BR": "categoria rara", "en": "rare category"},
    "small_new_merchant": {"pt-BR": "local novo, valor baixo", "en": "new merchant, small amount"},
    "new_merchant_amount": {"pt-BR": "local novo, valor alto", "en": "new merchant, big amount"},
    "unusual_hour": {"pt-BR": "horário incomum", "en": "unusual hour"},
    "confirmed_pattern": {"pt-BR": "parecida com fraude", "en": "like confirmed fraud"},
    "dismissed_pattern": {"pt-BR": "parecida com normais", "en": "like dismissed ones"},
    "model": {"pt-BR": "padrão incomum (modelo)", "en": "unusual pattern (model)"},
}


def resolve_lang(value: str | None) -> str:
    """``en``, ``en-US`` -> ``en``; anything else -> ``pt-BR``."""
    return "en" if (value or "").lower().startswith("en") else "pt-BR"


def t(key: str, lang: str = "pt-BR", **values) -> str:
    entry = STRINGS.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry["pt-BR"]
    return plural(text, values).format(**values) if values else text


def money(amount: float | int, lang: str, currency: str) -> str:
    """``money(1234.5, "pt-BR", "BRL")`` -> ``R$ 1.234,50``; in "en", "USD": ``$1,234.50``.

    No default currency: each caller says whose amount it is (the expense's own ``currency``,
    or the deployment's for totals and typed amounts)."""
    return format_money(round(float(amount) * 100), currency, lang)


def money_and_others(amount: float, others: dict[str, float], lang: str, currency: str) -> str:
    """A total in ``currency`` and, beside it, what was spent in others (never converted):
    ``R$ 100,00 + € 50,00``."""
    parts = [money(amount, lang, currency)]
    parts += [money(value, lang, code) for code, value in sorted(others.items())]
    return " + ".join(parts)


def others_text(others: dict[str, float], lang: str) -> str:
    """``+ € 50,00``: amounts in other currencies, shown apart from a total."""
    return " + ".join([""] + [money(v, lang, c) for c, v in sorted(others.items())]).strip()


def currency_symbol(currency: str, lang: str) -> str:
    """For labels: ``Valor (US$)``, ``Amount ($)``."""
    return currency_prefix(currency, lang).strip()


def number(value: float, lang: str = "pt-BR", digits: int = 0) -> str:
    text = f"{value:,.{digits}f}"
    if lang == "pt-BR":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


_MONTHS = {
    "pt-BR": ["janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
              "setembro", "outubro", "novembro", "dezembro"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"],
}  # fmt: skip


def month(year_month: str, lang: str = "pt-BR") -> str:
    """``2026-11`` -> ``novembro de 2026`` / ``November 2026`` (anything else as it is)."""
    year, _, number = year_month.partition("-")
    if not (year.isdecimal() and number.isdecimal() and 1 <= int(number) <= 12):
        return year_month
    name = _MONTHS[lang if lang in _MONTHS else "pt-BR"][int(number) - 1]
    return f"{name} de {year}" if lang == "pt-BR" else f"{name} {year}"


def day(iso: str, lang: str = "pt-BR") -> str:
    """An ISO date the way the UI writes dates: ``01/10/2026`` in pt-BR; text that is no ISO
    date (a file's unreadable date) is left as it is."""
    try:
        parsed = date.fromisoformat(iso)
    except ValueError:
        return iso
    return parsed.strftime("%d/%m/%Y") if lang == "pt-BR" else parsed.isoformat()


def percent(rate: float, lang: str = "pt-BR") -> str:
    return number(rate * 100, lang, 1) + "%"


def when(moment: str | datetime | None, lang: str = "pt-BR", tz: str = "America/Sao_Paulo") -> str:
    """An API instant in the user's time zone: ``02/03/2026 12:30`` or ``2026-03-02 12:30``."""
    if moment is None:
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    local = moment.astimezone(ZoneInfo(tz))
    return local.strftime("%d/%m/%Y %H:%M" if lang == "pt-BR" else "%Y-%m-%d %H:%M")


def severity(level: str, lang: str = "pt-BR") -> str:
    return t(f"sev_{level}", lang)


def reason_label(code: str, lang: str = "pt-BR") -> str:
    entry = REASON_LABELS.get(code)
    return (entry.get(lang) or entry["pt-BR"]) if entry else code.replace("_", " ")


def field_error(error: dict, lang: str = "pt-BR") -> str:
    """One ``{field, message, type}`` from a 422, in the user's words."""
    kind = error.get("type", "")
    message = error.get("message", "")
    if kind == "value_error":
        # The API's own checks all say value_error; tell them apart by their wording.
        for needle, known in _VALUE_ERRORS.items():
            if needle in message:
                kind = known
                break
    key = f"fe_{kind}"
    found = _FIRST_NUMBER.search(message) if kind in _LIMITED else None
    if kind == "string_too_short" and (found is None or float(found.group()) <= 1):
        return t("fe_empty", lang)
    if found:
        return t(key, lang, limit=_limit(kind, float(found.group()), lang))
    if key in STRINGS and kind not in _LIMITED:
        return t(key, lang)
    return message or kind


def _limit(kind: str, value: float, lang: str) -> str:
    if kind == "future":  # minutes, said in hours when whole ones
        return f"{number(value / 60, lang)} h" if value % 60 == 0 else f"{number(value, lang)} min"
    return number(value, lang, 0 if value == int(value) else 2)


def typed_amount_error(error, lang: str = "pt-BR") -> str:
    """An ``importers.AmountError`` (a typed amount the entry form refused) in the user's words:
    ``12.345`` -> "valor ambíguo: escreva 12.345,00 (ou 12345) se são milhares; ..."."""
    values = dict(error.values)
    if "thousands" in values:
        values["plain"] = f"{values['thousands']:f}"
        values["thousands"] = number(float(values["thousands"]), lang, 2)
    return t(f"fe_{error.code}", lang, **values)


def field_errors(errors: list[dict], lang: str = "pt-BR") -> dict[str, str]:
    """``{field: sentence}``; batch fields such as ``3.amount`` keep their index."""
    found: dict[str, str] = {}
    for error in errors:
        field = str(error.get("field") or "body")
        text = field_error(error, lang)
        found[field] = f"{found[field]}; {text}" if field in found else text
    return found
