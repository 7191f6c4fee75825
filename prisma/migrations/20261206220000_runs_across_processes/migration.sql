-- Runs watched and stopped from another process (the trainer role): the run's progress as it goes, who asked
-- it to stop, its whole report when it ends (any bot process can show it), and the queue's job it came from.
ALTER TABLE "TrainingRun" ADD COLUMN "progress" TEXT NOT NULL DEFAULT '{}';
ALTER TABLE "TrainingRun" ADD COLUMN "stopRequestedBy" TEXT;
ALTER TABLE "TrainingRun" ADD COLUMN "report" TEXT;
ALTER TABLE "TrainingRun" ADD COLUMN "jobId" TEXT;
