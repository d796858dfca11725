-- wrk script: POST /event with varied, realistic expenses (accounts, merchants, amounts, times).
local categories = {"alimentação", "mercado", "transporte", "saúde", "lazer", "farmácia"}
local merchants = {"Padaria Pão de Mel", "Supermercado Dia", "Uber", "Drogasil", "iFood",
                   "Posto Shell", "Cinemark", "Café Central", "Loja Americanas", "Restaurante Sabor"}
local token = os.getenv("BENCH_TOKEN") or ""
-- BENCH_TOKENS (comma-separated): each request goes to the next user, as many spenders would.
local tokens = {}
for t in string.gmatch(os.getenv("BENCH_TOKENS") or "", "[^,]+") do tokens[#tokens + 1] = t end
local counter = 0
math.randomseed(os.time())

request = function()
  counter = counter + 1
  local t = 1767225600 + counter * 97 + math.random(0, 90)
  local body = string.format(
    '{"amount": %.2f, "category": "%s", "merchant": "%s", "account": "card-%d", "occurred_at": "%s"}',
    math.exp(math.random() * 3 + 2), categories[math.random(#categories)],
    merchants[math.random(#merchants)], math.random(1, 20), os.date("!%Y-%m-%dT%H:%M:%SZ", t))
  local headers = {["Content-Type"] = "application/json"}
  if #tokens > 0 then token = tokens[counter % #tokens + 1] end
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("POST", "/event", headers, body)
end
