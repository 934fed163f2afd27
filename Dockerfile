# One image for the three services: `python -m services.<name> serve`.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared shared
COPY services services
COPY deploy deploy
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 roadshow
COPY --from=build /install /usr/local
USER roadshow
ENV PYTHONUNBUFFERED=1
# Each service binds 0.0.0.0 in a container; its port comes from <SERVICE>_HTTP_PORT.
ENTRYPOINT ["python", "-m"]
CMD ["services.registration", "serve"]
