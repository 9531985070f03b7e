FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY server ./server
COPY db ./db
COPY realtime ./realtime
RUN pip install --no-cache-dir .
ENV HOST=0.0.0.0 PORT=5014
EXPOSE 5014
CMD ["formula-pm", "serve"]
