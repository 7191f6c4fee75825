-- CreateTable
CREATE TABLE "TrainingRun" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "trigger" TEXT NOT NULL,
    "requestedBy" TEXT,
    "status" TEXT NOT NULL,
    "startedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "endedAt" DATETIME,
    "baseVersion" TEXT NOT NULL,
    "candidateVersion" TEXT,
    "steps" INTEGER NOT NULL DEFAULT 0,
    "tokens" INTEGER NOT NULL DEFAULT 0,
    "ratedPoems" INTEGER NOT NULL DEFAULT 0,
    "pplBefore" REAL,
    "pplAfter" REAL,
    "decision" TEXT,
    "error" TEXT,
    "lossCurve" TEXT NOT NULL DEFAULT '[]'
);

-- CreateTable
CREATE TABLE "ModelVersion" (
    "version" TEXT NOT NULL PRIMARY KEY,
    "parent" TEXT,
    "path" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "devPerplexity" REAL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "active" BOOLEAN NOT NULL DEFAULT false,
    "activatedAt" DATETIME,
    "runId" INTEGER
);

-- CreateIndex
CREATE INDEX "TrainingRun_startedAt_idx" ON "TrainingRun"("startedAt");

