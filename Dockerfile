FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY server ./server
COPY db ./db
COPY realtime ./realtime
RUN pip install --no-cache-dir -r requirements.lock && pip install --no-cache-dir --no-deps .
ENV HOST=0.0.0.0 PORT=5014
EXPOSE 5014
CMD ["formula-pm", "serve"]
