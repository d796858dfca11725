"""The yardstick: a trivial async FastAPI POST that validates and echoes an expense body."""

from fastapi import FastAPI

from vigilante.schemas import ExpenseIn

app = FastAPI()


@app.get("/health")
async def health():
    return {"status": "ok"}


@app.post("/event", status_code=201)
async def echo(body: ExpenseIn) -> ExpenseIn:
    return body
